# The image every Kubeflow / Vertex AI component runs in: TFX 1.16's image with grec installed.
#   docker build -t gcr.io/PROJECT/grec:1 . && docker push gcr.io/PROJECT/grec:1
#   grec kubeflow --image gcr.io/PROJECT/grec:1 --spec my_spec/feature_spec.yaml ... --output grec_pipeline.json
# The install step is the one tests/test_package.py and docs/install.md run outside Docker.
FROM tensorflow/tfx:1.16.0
WORKDIR /opt/grec
COPY . .
RUN python -m pip install --no-cache-dir -c constraints.txt . \
 && python -c "import components, models, pipelines, serving, schemas; print(schemas.datasets())"
WORKDIR /
