"""Checks familybridge servers the way a non-Rust client would.

For each address given, lists the services through server reflection (grpcio-reflection speaks
only v1alpha) and asks grpc.health.v1 for the overall status. Prints one JSON object per address:
{"address": ..., "services": [...], "health": "SERVING"}. Exits non-zero on any failure.
"""

import json
import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc


def check(address: str) -> dict:
    with grpc.insecure_channel(address) as channel:
        reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        responses = reflection.ServerReflectionInfo(iter([request]), timeout=10)
        services = sorted(
            service.name
            for response in responses
            for service in response.list_services_response.service
        )
        health = health_pb2_grpc.HealthStub(channel)
        status = health.Check(health_pb2.HealthCheckRequest(service=""), timeout=10).status
        return {
            "address": address,
            "services": services,
            "health": health_pb2.HealthCheckResponse.ServingStatus.Name(status),
        }


def main() -> int:
    for address in sys.argv[1:]:
        print(json.dumps(check(address)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
