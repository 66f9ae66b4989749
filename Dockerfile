# raygate container image: a static binary on a distroless, non-root base.
#   docker build --build-arg VERSION=v0.1.0 -t raygate:v0.1.0 .
FROM golang:1.26 AS build
ARG VERSION=dev
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY cmd ./cmd
COPY internal ./internal
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X github.com/raygate/raygate/internal/version.Version=${VERSION}" \
      -o /out/raygate ./cmd/raygate

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/raygate /raygate
USER 65532:65532
ENTRYPOINT ["/raygate"]
