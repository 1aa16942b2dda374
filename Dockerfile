# Serving image (issue 5): TF Serving, REST on 8501 and gRPC on 8500, with one export's versions baked in.
#   python -m tf_dpvae.export runs/factor-dp-moons-seed0     # or train, which exports at the end
#   docker build --target serve --build-arg MODEL=factor-dp-moons-seed0 -t tf_dpvae-serve .
#   docker run --rm -p 8501:8501 -p 8500:8500 tf_dpvae-serve
# MODEL names a directory under saved_models/ holding integer versions (1/, 2/, ...); the server serves
# the newest. Mount the directory instead of copying it to have new versions picked up while running:
#   docker run --rm -p 8501:8501 -v "$PWD/saved_models/factor-dp-moons-seed0:/models/dpvae" \
#       -e MODEL_NAME=dpvae tensorflow/serving:2.20.0
# The exported graph uses only core TensorFlow ops (no TFP kernels), so the stock image serves it.
# This stage comes first so that a plain `docker build .` still builds the training image (the last stage).
FROM tensorflow/serving:2.20.0 AS serve
ARG MODEL
ENV MODEL_NAME=dpvae
COPY saved_models/${MODEL}/ /models/dpvae/
# The image's entrypoint runs: tensorflow_model_server --port=8500 --rest_api_port=8501
#   --model_name=${MODEL_NAME} --model_base_path=/models/${MODEL_NAME}
EXPOSE 8500 8501

# Training image: `docker build -t tf_dpvae .` then
#   docker run --rm -v "$PWD/runs:/app/runs" tf_dpvae --reg factor
FROM python:3.11-slim-bookworm AS train
RUN apt-get update \
 && apt-get install -y --no-install-recommends dataset-fashion-mnist \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY tf_dpvae/ tf_dpvae/
ENV TF_CPP_MIN_LOG_LEVEL=2
ENTRYPOINT ["python", "-m", "tf_dpvae.train"]
