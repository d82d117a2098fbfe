"""gRPC over TLS with TF Serving's --ssl_config_file, against whichever server the launcher starts.

The test makes its own authority, server and client certificates (cryptography), so nothing is fetched.
"""

import datetime
import ipaddress
import os
import shutil

import grpc
import numpy as np
import pytest
from google.protobuf import text_format

from serving import client as client_lib
from serving import model_server
from serving.client import GRecClient
from serving.launcher import ServerProcess
from serving.sample_model import SAMPLE_ROW
from serving.tls import SSLConfig

ROWS = [dict(SAMPLE_ROW, task=t) for t in ("ctr", "cvr")]


def _authority(name):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def issue(common_name, issuer=None, ca=False, names=()):
        key = ec.generate_private_key(ec.SECP256R1())
        signer_key, signer_name = issuer or (key, common_name)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, signer_name)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(list(names)), critical=False)
        cert = builder.sign(signer_key, hashes.SHA256())
        pem_key = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return key, pem_key, cert.public_bytes(serialization.Encoding.PEM)

    ca_key, _, ca_cert = issue(name, ca=True)
    _, server_key, server_cert = issue(
        "localhost",
        (ca_key, name),
        names=(x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))),
    )
    _, client_key, client_cert = issue("a client", (ca_key, name))
    return dict(
        ca=ca_cert, server_key=server_key, server_cert=server_cert, client_key=client_key, client_cert=client_cert
    )


@pytest.fixture(scope="module")
def pki():
    return _authority("GRec test authority")


@pytest.fixture()
def base(exported, tmp_path):
    path = tmp_path / "served" / "grec"
    shutil.copytree(os.path.join(exported.base_path, "1"), path / "1")
    return str(path)


def _config(tmp_path, pki, client_verify=False, **replace):
    config = SSLConfig(
        server_key=pki["server_key"].decode(),
        server_cert=pki["server_cert"].decode(),
        custom_ca=pki["ca"].decode() if client_verify else "",
        client_verify=client_verify,
    )
    for field, value in replace.items():
        setattr(config, field, value)
    path = tmp_path / "ssl_config.txt"
    path.write_text(text_format.MessageToString(config))
    return str(path)


def _refused(client):
    with pytest.raises(grpc.RpcError) as error:
        client.predict(ROWS)
    client.close()
    return error.value.code()


def test_grpc_over_tls_answers_clients_that_trust_its_authority_only(base, tmp_path, pki, exported):
    config = _config(tmp_path, pki)
    with ServerProcess(
        base, extra_args=[f"--ssl_config_file={config}"], credentials=grpc.ssl_channel_credentials(pki["ca"])
    ) as server:
        trusting = GRecClient(server.target, root_certificates=pki["ca"])
        np.testing.assert_allclose(trusting.predict(ROWS), exported.in_process(ROWS), atol=1e-5)
        trusting.close()
        assert _refused(GRecClient(server.target, timeout=5)) == grpc.StatusCode.UNAVAILABLE  # plain text
        stranger = _authority("another authority")["ca"]
        assert _refused(GRecClient(server.target, timeout=5, root_certificates=stranger)) == grpc.StatusCode.UNAVAILABLE


def test_client_verify_requires_a_client_certificate_from_custom_ca(base, tmp_path, pki, capsys):
    config = _config(tmp_path, pki, client_verify=True)
    credentials = grpc.ssl_channel_credentials(pki["ca"], pki["client_key"], pki["client_cert"])
    with ServerProcess(base, extra_args=[f"--ssl_config_file={config}"], credentials=credentials) as server:
        assert (
            _refused(GRecClient(server.target, timeout=5, root_certificates=pki["ca"])) == grpc.StatusCode.UNAVAILABLE
        )
        files = {}
        for name in ("ca", "client_key", "client_cert"):
            files[name] = tmp_path / f"{name}.pem"
            files[name].write_bytes(pki[name])
        row = ",".join(f"{k}={v}" for k, v in SAMPLE_ROW.items() if k != "task")
        argv = ["--target", server.target, "--row", row, "--tasks", "ctr", "--ssl_root_cert", str(files["ca"])]
        assert client_lib.main(argv) == 1  # no client certificate: refused
        assert "UNAVAILABLE" in capsys.readouterr().err
        argv += ["--ssl_client_key", str(files["client_key"]), "--ssl_client_cert", str(files["client_cert"])]
        assert client_lib.main(argv) == 0
        assert "probability" in capsys.readouterr().out


@pytest.mark.parametrize(
    "replace, message",
    [
        (dict(server_key="/etc/ssl/private/server.key"), "server_key must hold the PEM text itself"),
        (dict(server_cert=""), "server_cert must hold the PEM text itself"),
        (dict(client_verify=True, custom_ca=""), "client_verify needs custom_ca"),
        (None, "not a text-format SSLConfig"),
        ("missing", "cannot be read"),
    ],
)
def test_an_unusable_ssl_config_file_is_named_and_nothing_serves(base, tmp_path, pki, capsys, replace, message):
    if replace == "missing":
        path = str(tmp_path / "nowhere.txt")
    elif replace is None:
        path = str(tmp_path / "broken.txt")
        (tmp_path / "broken.txt").write_text("server_key: 'unterminated")
    else:
        path = _config(tmp_path, pki, **replace)
    assert model_server.main(["--port=0", f"--model_base_path={base}", f"--ssl_config_file={path}"]) == 2
    err = capsys.readouterr().err
    assert path in err and message in err
