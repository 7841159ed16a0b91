# syntax=docker/dockerfile:1
#
# Spotify Pixel transformer image.
#   docker build --build-arg VERSION=1.2.3 --build-arg COMMIT=$(git rev-parse --short HEAD) -t spotify-pixel-transformer .
# The binary is built by scripts/build.sh, the same command developers and CI use.

# The Go release go.mod's toolchain line names (deploy/dockerfile_test.go checks
# they agree): the standard library's security fixes reach the image.
FROM golang:1.26.11 AS build
WORKDIR /src

# Dependencies first, so that this layer is cached while go.mod/go.sum do not change.
COPY go.mod go.sum ./
RUN go mod download

COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
RUN VERSION="${VERSION}" COMMIT="${COMMIT}" OUT=/out/transformer ./scripts/build.sh

FROM gcr.io/distroless/static-debian12:nonroot
# nonroot = uid/gid 65532; the Kubernetes manifests run as the same ids.
USER 65532:65532
COPY --from=build /out/transformer /transformer
COPY deploy/destinations.example.yaml /etc/transformer/destinations.yaml
ENV TRANSFORMER_DESTINATIONS=/etc/transformer/destinations.yaml
# 8080: API, /health, /ready (and /metrics unless -metrics-listen is set); 9090: -metrics-listen=:9090 by convention.
EXPOSE 8080 9090
# Docker-format images only (OCI images and Kubernetes ignore HEALTHCHECK; Kubernetes uses its probes).
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 CMD ["/transformer","healthcheck"]
ENTRYPOINT ["/transformer"]
CMD ["serve"]
