"""gRPC server reflection under both of its names, so grpcurl, grpcui, Postman and Kreya find
the contract without being handed the proto files.

Clients ask for ``grpc.reflection.v1`` first and fall back to ``v1alpha``; grpcio-reflection
ships only ``v1alpha``. The two are one protocol: v1 is v1alpha promoted unchanged (the same
messages, field for field), so the one servicer answers both, and v1's file is v1alpha's
descriptor under the v1 package, added to the pool so that ``describe`` finds it too.
"""

from __future__ import annotations

from collections.abc import Sequence

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool
from grpc_reflection.v1alpha import reflection, reflection_pb2, reflection_pb2_grpc

V1ALPHA = reflection.SERVICE_NAME
V1 = "grpc.reflection.v1.ServerReflection"
NAMES = (V1, V1ALPHA)

_V1ALPHA_PACKAGE = reflection_pb2.DESCRIPTOR.package
_V1_PACKAGE = V1.rsplit(".", 1)[0]


def enable(server: grpc.aio.Server, service_names: Sequence[str]) -> None:
    """Serves reflection of ``service_names`` (and of itself, under both names) on ``server``."""
    _add_v1_file()
    servicer = reflection.aio.ReflectionServicer([*service_names, *NAMES])
    reflection_pb2_grpc.add_ServerReflectionServicer_to_server(servicer, server)
    v1 = grpc.stream_stream_rpc_method_handler(
        servicer.ServerReflectionInfo,
        request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
        response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString,
    )
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(V1, {"ServerReflectionInfo": v1}),))


def _add_v1_file() -> None:
    pool = descriptor_pool.Default()
    try:
        pool.FindServiceByName(V1)
        return  # a second server in the same process (tests) shares the pool
    except KeyError:
        pass
    file = descriptor_pb2.FileDescriptorProto()
    reflection_pb2.DESCRIPTOR.CopyToProto(file)
    file.name = "grpc/reflection/v1/reflection.proto"
    file.package = _V1_PACKAGE
    file.options.Clear()
    file.options.go_package = "google.golang.org/grpc/reflection/grpc_reflection_v1"
    old, new = f".{_V1ALPHA_PACKAGE}.", f".{_V1_PACKAGE}."
    for message in file.message_type:
        for field in message.field:
            if field.type_name.startswith(old):
                field.type_name = new + field.type_name[len(old) :]
    for method in (m for service in file.service for m in service.method):
        method.input_type = new + method.input_type[len(old) :]
        method.output_type = new + method.output_type[len(old) :]
    pool.AddSerializedFile(file.SerializeToString())
