"""Protobuf messages <-> domain models, one module per service, in both directions:
`*_to_proto` for the servicers, `*_from_proto` for the servicers and the client.

Imports only `models`, the generated code and google.protobuf, so that the client stays light.
"""
