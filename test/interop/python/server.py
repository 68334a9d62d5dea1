"""The interop TestService on Python grpcio (grpc-core): an independent gRPC server for corral's tests.

Request metadata whose key starts with x-echo- comes back in the initial and the trailing
metadata, every value in order. x-sleep-ms delays the answer; x-response-compression
(gzip, deflate) compresses it. Prints {"msg": "interop server listening", "port": N}.

    /usr/bin/python3 server.py [--port 0]
"""
import argparse
import json
import time
from concurrent import futures

import grpc

import stubs

protos, services = stubs.load()

CODES = {code.value[0]: code for code in grpc.StatusCode}
COMPRESSION = {"gzip": grpc.Compression.Gzip, "deflate": grpc.Compression.Deflate}


def echoed(context):
    return tuple((k, v) for k, v in context.invocation_metadata() if k.startswith("x-echo-"))


def start(context):
    """What every call does first: metadata back, compression, the sleep it asks for."""
    md = dict(context.invocation_metadata())
    compression = md.get("x-response-compression")
    if compression in COMPRESSION:
        context.set_compression(COMPRESSION[compression])
    echo = echoed(context)
    context.send_initial_metadata(echo)
    context.set_trailing_metadata(echo)
    sleep_ms = int(md.get("x-sleep-ms", "0"))
    deadline = time.monotonic() + sleep_ms / 1000
    while time.monotonic() < deadline and context.is_active():
        time.sleep(0.005)


def finish(context, status):
    if status is not None and status.code != 0:
        context.set_code(CODES[status.code])
        context.set_details(status.message)
        return True
    return False


def payload(size):
    return protos.Payload(body=bytes(i % 251 for i in range(size)) if size < 4096 else (bytes(range(251)) * (size // 251 + 1))[:size])


class TestService(services.TestServiceServicer):
    def EmptyCall(self, request, context):
        start(context)
        return protos.Empty()

    def UnaryCall(self, request, context):
        start(context)
        if finish(context, request.response_status if request.HasField("response_status") else None):
            return protos.SimpleResponse()
        return protos.SimpleResponse(payload=payload(request.response_size)) if request.response_size else protos.SimpleResponse()

    def StreamingOutputCall(self, request, context):
        start(context)
        for params in request.response_parameters:
            if params.interval_us:
                time.sleep(params.interval_us / 1e6)
            yield protos.StreamingOutputCallResponse(payload=payload(params.size))
        finish(context, request.response_status if request.HasField("response_status") else None)

    def StreamingInputCall(self, request_iterator, context):
        start(context)
        total = 0
        size = 0
        for request in request_iterator:
            total += len(request.payload.body)
            size = request.response_size or size
        return protos.StreamingInputCallResponse(aggregated_payload_size=total, payload=payload(size))

    def FullDuplexCall(self, request_iterator, context):
        start(context)
        for request in request_iterator:
            if request.HasField("response_status") and request.response_status.code != 0:
                finish(context, request.response_status)
                return
            for params in request.response_parameters:
                if params.interval_us:
                    time.sleep(params.interval_us / 1e6)
                yield protos.StreamingOutputCallResponse(payload=payload(params.size))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--tls-cert", help="serve TLS with this certificate (PEM) and --tls-key")
    parser.add_argument("--tls-key")
    args = parser.parse_args()
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=64),
        options=[("grpc.max_receive_message_length", 16 << 20), ("grpc.max_send_message_length", 16 << 20)],
    )
    services.add_TestServiceServicer_to_server(TestService(), server)
    if args.tls_cert:
        with open(args.tls_cert, "rb") as cert, open(args.tls_key, "rb") as key:
            credentials = grpc.ssl_server_credentials([(key.read(), cert.read())])
        port = server.add_secure_port(f"127.0.0.1:{args.port}", credentials)
    else:
        port = server.add_insecure_port(f"127.0.0.1:{args.port}")
    server.start()
    print(json.dumps({"msg": "interop server listening", "port": port}), flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    main()
