"""Generates the Python stubs of test-service.proto into a temporary folder and imports them.

Debian's grpcio-tools has protoc but not grpc.protos_and_services, so this does its job.
"""
import importlib
import os
import sys
import tempfile

from grpc_tools import protoc

PROTO_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load():
    out = tempfile.mkdtemp(prefix="corral-interop-")
    code = protoc.main(
        ["protoc", f"-I{PROTO_DIR}", f"--python_out={out}", f"--grpc_python_out={out}", os.path.join(PROTO_DIR, "test-service.proto")]
    )
    if code != 0:
        raise SystemExit(f"protoc failed with {code}")
    sys.path.insert(0, out)
    return importlib.import_module("test_service_pb2"), importlib.import_module("test_service_pb2_grpc")
