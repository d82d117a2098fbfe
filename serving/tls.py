"""TLS for the gRPC API: TF Serving's ``--ssl_config_file``, the same file for both servers.

The file is a text-format ``tensorflow.serving.SSLConfig``
(tensorflow_serving/config/ssl_config.proto): ``server_key`` and
``server_cert`` (PEM text, not paths), optional ``custom_ca`` (PEM of the
authority client certificates must chain to) and ``client_verify`` (require a
client certificate: mutual TLS). That message is not in the
tensorflow-serving-api wheel, so its four fields are declared here with the
same names and numbers and parsed by protobuf's own text format: a file the
official server accepts, this one accepts, and the other way round.

As in TF Serving, TLS covers gRPC; the REST API stays plain HTTP (bind it to
127.0.0.1 or put it behind a TLS proxy).
"""

from __future__ import annotations

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, text_format

# (name, number, type) of SSLConfig's fields, as in ssl_config.proto.
_FIELDS = (
    ("server_key", 1, descriptor_pb2.FieldDescriptorProto.TYPE_STRING),
    ("server_cert", 2, descriptor_pb2.FieldDescriptorProto.TYPE_STRING),
    ("custom_ca", 3, descriptor_pb2.FieldDescriptorProto.TYPE_STRING),
    ("client_verify", 4, descriptor_pb2.FieldDescriptorProto.TYPE_BOOL),
)


class SSLConfigError(ValueError):
    """An SSL config file that cannot be used; the message names the file and the field."""


def _ssl_config_class():
    file = descriptor_pb2.FileDescriptorProto(
        name="grec_ssl_config.proto", package="tensorflow.serving", syntax="proto3"
    )
    message = file.message_type.add(name="SSLConfig")
    for name, number, kind in _FIELDS:
        message.field.add(name=name, number=number, type=kind, label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL)
    pool = descriptor_pool.DescriptorPool()  # its own pool: never clashes with a real ssl_config_pb2
    pool.Add(file)
    # MessageFactory(pool).GetPrototype: protobuf 3.20 (pinned by TF 2.16); newer ones also have GetMessageClass.
    return message_factory.MessageFactory(pool).GetPrototype(pool.FindMessageTypeByName("tensorflow.serving.SSLConfig"))


SSLConfig = _ssl_config_class()


def load_ssl_config(path: str):
    """The ``SSLConfig`` in text format at ``path``, checked: key and certificate present and PEM, a
    ``custom_ca`` whenever ``client_verify`` is set.

    Raises:
        SSLConfigError: the file, and what is wrong in it.
    """
    try:
        with open(path) as f:
            config = text_format.Parse(f.read(), SSLConfig())
    except OSError as error:
        raise SSLConfigError(f"--ssl_config_file {path}: cannot be read ({error.strerror})") from error
    except text_format.ParseError as error:
        raise SSLConfigError(f"--ssl_config_file {path}: not a text-format SSLConfig: {error}") from error
    for field, marker in (("server_key", "PRIVATE KEY-----"), ("server_cert", "-----BEGIN CERTIFICATE-----")):
        if marker not in getattr(config, field):
            raise SSLConfigError(f"--ssl_config_file {path}: {field} must hold the PEM text itself (not a path)")
    if config.client_verify and "-----BEGIN CERTIFICATE-----" not in config.custom_ca:
        raise SSLConfigError(
            f"--ssl_config_file {path}: client_verify needs custom_ca, the PEM of the authority "
            "client certificates are signed by"
        )
    return config


def server_credentials(config):
    """gRPC server credentials of an ``SSLConfig``."""
    import grpc

    return grpc.ssl_server_credentials(
        [(config.server_key.encode(), config.server_cert.encode())],
        root_certificates=config.custom_ca.encode() or None,
        require_client_auth=config.client_verify,
    )
