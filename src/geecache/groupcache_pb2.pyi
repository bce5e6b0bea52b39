from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class GetRequest(_message.Message):
    __slots__ = ("group", "key")
    GROUP_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    group: str
    key: str
    def __init__(self, group: _Optional[str] = ..., key: _Optional[str] = ...) -> None: ...

class GetResponse(_message.Message):
    __slots__ = ("value", "minute_qps")
    VALUE_FIELD_NUMBER: _ClassVar[int]
    MINUTE_QPS_FIELD_NUMBER: _ClassVar[int]
    value: bytes
    minute_qps: float
    def __init__(self, value: _Optional[bytes] = ..., minute_qps: _Optional[float] = ...) -> None: ...
