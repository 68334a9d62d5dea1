"""Interop cases on Python grpcio (grpc-core) as the client, against one target.

Each case makes its calls, checks what a correct gRPC peer must see, and reports what it
observed (status, metadata, payload sizes and digests), so a run direct and a run through
corral can be compared. Prints one JSON line per case and copy:
{"copy": 0, "case": "...", "ok": true, "observed": {...}} or {"ok": false, "error": "..."}.

    /usr/bin/python3 client.py --target 127.0.0.1:50052 [--copies 4] [--cases a,b]
        [--ca CA.pem [--cert CLIENT.pem --key CLIENT.key] [--server-name localhost]]   over TLS
"""
import argparse
import hashlib
import json
import threading
import time
import uuid

import grpc

import stubs

protos, services = stubs.load()

MiB = 1 << 20
UNICODE_MESSAGE = "ünïcödé ✓ 🐝 spaß"
PERCENT_MESSAGE = "100% done %41 %%"
PADDED_MESSAGE = " lead and trail "


def digest(data):
    return hashlib.sha256(data).hexdigest()[:16]


def body(size):
    return (bytes(range(251)) * (size // 251 + 1))[:size]


def md_list(metadata):
    """The x-echo- entries of a metadata sequence, in order, bytes shown as hex."""
    out = []
    for key, value in metadata or ():
        if key.startswith("x-echo-"):
            out.append([key, value.hex() if isinstance(value, bytes) else value])
    return out


def unique(*pairs):
    """Metadata that makes the request unlike any other, so corral cannot answer it from its cache."""
    return (("x-nonce", uuid.uuid4().hex),) + pairs


def status_of(err):
    return {"code": err.code().name, "details": err.details()}


def expect(condition, message):
    if not condition:
        raise AssertionError(message)


ECHO_METADATA = (
    ("x-echo-text", "hello"),
    ("x-echo-data-bin", b"\x00\x01\xfa\xff"),
    ("x-echo-rep", "first"),
    ("x-echo-rep", "second"),
    ("x-echo-rep-bin", b"\x00\x01"),
    ("x-echo-rep-bin", b"\x02\x03\x04"),
    ("x-echo-pad", " padded "),
    ("x-echo-comma", "a, b"),
)


class Cases:
    def __init__(self, stub, copy):
        self.stub = stub
        self.copy = copy

    def empty_unary(self):
        reply = self.stub.EmptyCall(protos.Empty(), timeout=10)
        return {"reply": reply.SerializeToString().hex()}

    def unary(self):
        reply = self.stub.UnaryCall(protos.SimpleRequest(response_size=314159, payload=protos.Payload(body=body(271828))), timeout=10)
        expect(len(reply.payload.body) == 314159, "response size")
        return {"size": len(reply.payload.body), "digest": digest(reply.payload.body)}

    def empty_messages(self):
        reply = self.stub.UnaryCall(protos.SimpleRequest(), timeout=10)
        expect(reply.ByteSize() == 0, "empty reply")
        return {"bytes": reply.ByteSize()}

    def large_unary_3mib(self):
        reply = self.stub.UnaryCall(protos.SimpleRequest(response_size=3 * MiB, payload=protos.Payload(body=body(3 * MiB))), timeout=20)
        expect(len(reply.payload.body) == 3 * MiB, "3 MiB back")
        return {"size": len(reply.payload.body), "digest": digest(reply.payload.body)}

    def server_streaming_5mib(self):
        sizes = [MiB, 2 * MiB, 512 * 1024, 1, 0, MiB + 512 * 1024]
        params = [protos.ResponseParameters(size=s) for s in sizes]
        call = self.stub.StreamingOutputCall(protos.StreamingOutputCallRequest(response_parameters=params), timeout=20)
        got = [len(r.payload.body) for r in call]
        expect(got == sizes, f"sizes {got}")
        expect(call.code() == grpc.StatusCode.OK, "status OK")
        return {"sizes": got}

    def client_streaming_3mib_response(self):
        def requests():
            for size in (27182, 8, 1828, 45904, MiB):
                yield protos.StreamingInputCallRequest(payload=protos.Payload(body=body(size)), response_size=3 * MiB)

        reply = self.stub.StreamingInputCall(requests(), timeout=20)
        expect(reply.aggregated_payload_size == 27182 + 8 + 1828 + 45904 + MiB, "aggregated size")
        expect(len(reply.payload.body) == 3 * MiB, "3 MiB back")
        return {"aggregated": reply.aggregated_payload_size, "digest": digest(reply.payload.body)}

    def ping_pong(self):
        sizes = [(27182, 31415), (8, 9), (1828, 2653), (45904, 58979)]
        queue = []
        cond = threading.Condition()

        def requests():
            for i, (req, resp) in enumerate(sizes):
                with cond:
                    cond.wait_for(lambda: len(queue) == i, timeout=10)
                yield protos.StreamingOutputCallRequest(
                    response_parameters=[protos.ResponseParameters(size=resp)], payload=protos.Payload(body=body(req))
                )

        call = self.stub.FullDuplexCall(requests(), timeout=20)
        for reply in call:
            with cond:
                queue.append(len(reply.payload.body))
                cond.notify_all()
        expect(queue == [r for _, r in sizes], f"pongs {queue}")
        return {"pongs": queue}

    def metadata_both_ways(self):
        reply, call = self.stub.UnaryCall.with_call(protos.SimpleRequest(response_size=10), metadata=ECHO_METADATA, timeout=10)
        sent = md_list(ECHO_METADATA)
        initial, trailing = md_list(call.initial_metadata()), md_list(call.trailing_metadata())
        expect(initial == sent, f"initial metadata {initial}")
        expect(trailing == sent, f"trailing metadata {trailing}")
        return {"initial": initial, "trailing": trailing}

    def metadata_server_streaming(self):
        call = self.stub.StreamingOutputCall(
            protos.StreamingOutputCallRequest(response_parameters=[protos.ResponseParameters(size=3)]), metadata=ECHO_METADATA, timeout=10
        )
        sizes = [len(r.payload.body) for r in call]
        return {"sizes": sizes, "initial": md_list(call.initial_metadata()), "trailing": md_list(call.trailing_metadata())}

    def metadata_bidi(self):
        call = self.stub.FullDuplexCall(
            iter([protos.StreamingOutputCallRequest(response_parameters=[protos.ResponseParameters(size=5)])]), metadata=ECHO_METADATA, timeout=10
        )
        sizes = [len(r.payload.body) for r in call]
        initial, trailing = md_list(call.initial_metadata()), md_list(call.trailing_metadata())
        expect(initial == md_list(ECHO_METADATA), f"initial metadata {initial}")
        return {"sizes": sizes, "initial": initial, "trailing": trailing}

    def trailing_metadata_on_error(self):
        try:
            self.stub.UnaryCall(
                protos.SimpleRequest(response_status=protos.EchoStatus(code=5, message="not here")), metadata=ECHO_METADATA, timeout=10
            )
        except grpc.RpcError as err:
            trailing = md_list(err.trailing_metadata())
            expect(err.code() == grpc.StatusCode.NOT_FOUND, f"code {err.code()}")
            expect(trailing == md_list(ECHO_METADATA), f"trailing metadata {trailing}")
            return {**status_of(err), "trailing": trailing}
        raise AssertionError("the call succeeded")

    def status_codes(self):
        seen = []
        for code in range(1, 17):
            for message in (UNICODE_MESSAGE, PERCENT_MESSAGE, PADDED_MESSAGE):
                try:
                    self.stub.UnaryCall(protos.SimpleRequest(response_status=protos.EchoStatus(code=code, message=message)), timeout=10)
                    raise AssertionError(f"code {code} succeeded")
                except grpc.RpcError as err:
                    expect(err.code().value[0] == code, f"code {err.code()} for {code}")
                    expect(err.details() == message, f"details {err.details()!r} for {message!r}")
                    seen.append([err.code().name, err.details()])
        return {"statuses": seen}

    def status_on_streams(self):
        seen = []
        status = protos.EchoStatus(code=9, message=UNICODE_MESSAGE)
        call = self.stub.StreamingOutputCall(
            protos.StreamingOutputCallRequest(response_parameters=[protos.ResponseParameters(size=7)], response_status=status), timeout=10
        )
        try:
            sizes = [len(r.payload.body) for r in call]
        except grpc.RpcError as err:
            seen.append(["server_stream", status_of(err)])
        call = self.stub.FullDuplexCall(iter([protos.StreamingOutputCallRequest(response_status=status)]), timeout=10)
        try:
            sizes = [len(r.payload.body) for r in call]
            seen.append(["bidi", sizes])
        except grpc.RpcError as err:
            seen.append(["bidi", status_of(err)])
        expect(all(s[1]["code"] == "FAILED_PRECONDITION" for s in seen if isinstance(s[1], dict)) and len(seen) == 2, f"{seen}")
        return {"seen": seen}

    def unimplemented_method(self):
        try:
            self.stub.UnimplementedCall(protos.Empty(), timeout=10)
        except grpc.RpcError as err:
            expect(err.code() == grpc.StatusCode.UNIMPLEMENTED, f"code {err.code()}")
            return {"code": err.code().name}
        raise AssertionError("the call succeeded")

    def deadline_unary(self):
        started = time.monotonic()
        try:
            self.stub.UnaryCall(protos.SimpleRequest(response_size=1), metadata=unique(("x-sleep-ms", "3000")), timeout=0.3)
        except grpc.RpcError as err:
            elapsed = time.monotonic() - started
            expect(err.code() == grpc.StatusCode.DEADLINE_EXCEEDED, f"code {err.code()}")
            expect(elapsed < 2.5, f"took {elapsed:.2f}s")
            return {"code": err.code().name}
        raise AssertionError("the call succeeded")

    def deadline_bidi(self):
        call = self.stub.FullDuplexCall(
            iter([protos.StreamingOutputCallRequest(response_parameters=[protos.ResponseParameters(size=1)])]),
            metadata=unique(("x-sleep-ms", "3000")),
            timeout=0.3,
        )
        try:
            list(call)
        except grpc.RpcError as err:
            expect(err.code() == grpc.StatusCode.DEADLINE_EXCEEDED, f"code {err.code()}")
            return {"code": err.code().name}
        raise AssertionError("the call succeeded")

    def cancel_unary(self):
        future = self.stub.UnaryCall.future(protos.SimpleRequest(response_size=1), metadata=unique(("x-sleep-ms", "3000")), timeout=10)
        time.sleep(0.1)
        future.cancel()
        expect(future.cancelled(), "cancelled")
        return {"cancelled": True}

    def cancel_after_first_response(self):
        release = threading.Event()

        def requests():
            yield protos.StreamingOutputCallRequest(response_parameters=[protos.ResponseParameters(size=31415)], payload=protos.Payload(body=body(27182)))
            release.wait(10)

        call = self.stub.FullDuplexCall(requests(), timeout=10)
        first = next(call)
        call.cancel()
        release.set()
        try:
            next(call)
        except grpc.RpcError as err:
            expect(err.code() == grpc.StatusCode.CANCELLED, f"code {err.code()}")
            return {"first": len(first.payload.body), "code": err.code().name}
        raise AssertionError("the call went on")

    def compression_requests(self):
        seen = {}
        for name, algorithm in (("gzip", grpc.Compression.Gzip), ("deflate", grpc.Compression.Deflate)):
            reply = self.stub.UnaryCall(
                protos.SimpleRequest(response_size=4096, payload=protos.Payload(body=body(65536))), compression=algorithm, timeout=10
            )
            summary = self.stub.StreamingInputCall(
                iter([protos.StreamingInputCallRequest(payload=protos.Payload(body=body(n))) for n in (1000, 65536)]),
                compression=algorithm,
                timeout=10,
            )
            seen[name] = [len(reply.payload.body), summary.aggregated_payload_size]
        expect(seen == {"gzip": [4096, 66536], "deflate": [4096, 66536]}, f"{seen}")
        return seen

    def compression_responses(self):
        seen = {}
        for name in ("gzip", "deflate"):
            md = (("x-response-compression", name),)
            reply = self.stub.UnaryCall(protos.SimpleRequest(response_size=70000), metadata=md, timeout=10)
            call = self.stub.FullDuplexCall(
                iter([protos.StreamingOutputCallRequest(response_parameters=[protos.ResponseParameters(size=9000)])]), metadata=md, timeout=10
            )
            seen[name] = [digest(reply.payload.body), [len(r.payload.body) for r in call]]
        return seen


CASES = [name for name in vars(Cases) if not name.startswith("_")]


def read(path):
    with open(path, "rb") as f:
        return f.read()


def run_copy(target, copy, cases, out, lock, tls):
    options = [("grpc.max_receive_message_length", 16 << 20), ("grpc.max_send_message_length", 16 << 20)]
    if tls.ca:
        credentials = grpc.ssl_channel_credentials(
            read(tls.ca), read(tls.key) if tls.key else None, read(tls.cert) if tls.cert else None
        )
        options.append(("grpc.ssl_target_name_override", tls.server_name))
        channel = grpc.secure_channel(target, credentials, options=options)
    else:
        channel = grpc.insecure_channel(target, options=options)
    stub = services.TestServiceStub(channel)
    runner = Cases(stub, copy)
    for case in cases:
        try:
            result = {"copy": copy, "case": case, "ok": True, "observed": getattr(runner, case)()}
        except Exception as err:  # a failed case is a result, not a crash
            result = {"copy": copy, "case": case, "ok": False, "error": f"{type(err).__name__}: {err}"}
        with lock:
            out.append(result)
            print(json.dumps(result), flush=True)
    channel.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--target", required=True)
    parser.add_argument("--copies", type=int, default=1)
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--ca", help="call over TLS, trusting this CA (PEM)")
    parser.add_argument("--cert", help="with this client certificate (PEM) and --key")
    parser.add_argument("--key")
    parser.add_argument("--server-name", default="localhost")
    args = parser.parse_args()
    cases = [c for c in args.cases.split(",") if c]
    unknown = [c for c in cases if c not in CASES]
    if unknown:
        raise SystemExit(f"unknown cases: {unknown}; known: {CASES}")
    out, lock = [], threading.Lock()
    threads = [threading.Thread(target=run_copy, args=(args.target, copy, cases, out, lock, args)) for copy in range(args.copies)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


if __name__ == "__main__":
    main()
