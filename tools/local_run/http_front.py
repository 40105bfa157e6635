"""The Bedrock emulation served over HTTP, so that a whole process can reach it.

`BedrockEmulator.client()` answers inside the process that made the client. The operator
CLI has to be tested the way users type it (`python -m tools status ...` in a subprocess,
or `main(argv)` building its own clients), so it can only be pointed at the emulation by
configuration: botocore's service-specific endpoint variables `AWS_ENDPOINT_URL_BEDROCK`
and `AWS_ENDPOINT_URL_BEDROCK_RUNTIME` (moto's server covers S3, Step Functions and the
rest; its Bedrock lacks what the pipeline needs).

`EmulatorServer` is that HTTP front: a threaded standard-library server on 127.0.0.1 that
mounts each service under its own path prefix (`url_for("bedrock")`,
`url_for("bedrock-runtime")`; both services sign as "bedrock", so the path is what tells
them apart). Requests are decoded and responses encoded from botocore's own service model
(both services are `rest-json`): each operation's `http.method` and `http.requestUri`
template route the request, and members are read from and written to the URI, the query
string, headers and the JSON body as their `location` and `locationName` say. No table of
operations is written here. Errors go out in the rest-json form botocore parses
(`x-amzn-ErrorType` and `{"message": ...}`), so clients raise the same `ClientError` they
would get from AWS, and botocore's retries, idempotency tokens and response parsing all run
as they do against the real endpoint.

Not supported: event streams (ConverseStream and the like), chunked responses, endpoint
host prefixes, and protocols other than rest-json.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import email.utils
import json
import re
import socket
import sys
import threading
import traceback
import uuid
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

import boto3
import botocore.session
from botocore.exceptions import ParamValidationError
from botocore.model import OperationModel, Shape
from botocore.utils import parse_timestamp
from botocore.validate import validate_parameters

from tools.local_run import strict

if TYPE_CHECKING:
    from tools.local_run.bedrock import BedrockEmulator

Handler = Callable[[str, str, dict[str, Any]], tuple[int, dict[str, Any]]]
SERVICES = ("bedrock", "bedrock-runtime")


class EmulatorServer:
    """A running HTTP endpoint for `services`, answered by `handle(service, operation, params)`.

    `EmulatorServer(emulator)` serves a `BedrockEmulator` (its `_handle`) for both Bedrock
    services; `EmulatorServer(handle=...)` serves any callable returning `(status, body)`,
    where a non-2xx status comes with `{"Error": {"Code": ..., "Message": ...}}`. The server
    starts listening in the constructor; use it as a context manager or call `stop()`.

    One request at a time reaches the handler (the emulator's state has no locks of its
    own). A 2xx body is checked against the operation's output shape, as the emulator's
    in-process client does; a body that does not match, or a handler that raises, is answered
    with a 500 `InternalFailure` and recorded in `failures`.
    """

    def __init__(
        self,
        emulator: BedrockEmulator | None = None,
        *,
        handle: Handler | None = None,
        services: Iterable[str] = SERVICES,
        check_responses: bool = True,
    ) -> None:
        if (emulator is None) == (handle is None):
            raise TypeError("give either an emulator or a handle callable")
        if handle is None:

            def handle(service: str, operation: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
                return emulator._handle(operation, params)  # one emulator answers both services

        self.handle = handle
        self.check_responses = check_responses
        self.failures: list[str] = []
        session = botocore.session.get_session()
        self._routers = {service: _Router(session.get_service_model(service)) for service in services}
        self._handler_lock = threading.Lock()
        self._stopped = False
        self._httpd = _Server(("127.0.0.1", 0), _RequestHandler)
        self._httpd.front = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="emulator-http", daemon=True
        )
        self._thread.start()

    # -- where it listens -----------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def url_for(self, service: str) -> str:
        """The endpoint URL to give a `service` client (`endpoint_url=` or the variable)."""
        if service not in self._routers:
            raise KeyError(f"{service} is not served here (serving {', '.join(self._routers)})")
        return f"{self.url}/{service}"

    def environ(self) -> dict[str, str]:
        """The variables that point every boto3 client of the served services here, named as
        botocore derives them: `AWS_ENDPOINT_URL_` and the client name, `-` as `_`, upper case."""
        return {
            f"AWS_ENDPOINT_URL_{service.replace('-', '_').upper()}": self.url_for(service) for service in self._routers
        }

    def client(self, service: str = "bedrock", **kwargs: Any):
        """A boto3 client of `service` pointed at this server (dummy credentials)."""
        options = {"region_name": "us-east-1", "aws_access_key_id": "local", "aws_secret_access_key": "local"}
        return boto3.client(service, endpoint_url=self.url_for(service), **{**options, **kwargs})

    # -- life cycle -----------------------------------------------------------------------------

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._httpd.shutdown()
        self._httpd.close_connections()
        self._httpd.server_close()
        self._thread.join()

    def __enter__(self) -> EmulatorServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- one request ----------------------------------------------------------------------------

    def _respond(self, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> _Response:
        request_id = str(uuid.uuid4())
        try:
            path, _, query = raw_path.partition("?")
            service, _, rest = path.lstrip("/").partition("/")
            router = self._routers.get(service)
            if router is None:
                raise _Refusal(404, "UnknownOperationException", f"No service is mounted at /{service}.")
            operation, params = router.parse(method, "/" + rest, query, headers, body)
            # AWS checks every request against the service model before it acts: so does this.
            problems = strict.validate(service, operation.name, params)
            if problems:
                raise _Refusal(400, "ValidationException", "; ".join(problems))
            with self._handler_lock:
                status, answer = self.handle(service, operation.name, params)
            if not 200 <= status < 300:
                error = (answer or {}).get("Error", {})
                raise _Refusal(status, error.get("Code") or str(status), error.get("Message", ""))
            answer = {key: value for key, value in (answer or {}).items() if key != "ResponseMetadata"}
            if self.check_responses and operation.output_shape is not None:
                try:
                    validate_parameters(answer, operation.output_shape)
                except ParamValidationError as invalid:
                    raise _Failure(
                        f"{service} {operation.name} answered what the output shape forbids: {invalid}"
                    ) from None
            response = _encode_output(operation, answer)
            response.status = operation.http.get("responseCode", 200) if status == 200 else status
        except _Refusal as refusal:
            response = refusal.response()
        except _Failure as failure:
            self.failures.append(str(failure))
            response = _Refusal(500, "InternalFailure", str(failure)).response()
        except Exception as exc:  # the handler's bug: answer it, and keep it for the test to see
            message = "".join(traceback.format_exception(exc))
            self.failures.append(message)
            print(message, file=sys.stderr)
            response = _Refusal(500, "InternalFailure", f"The emulation raised {exc!r}").response()
        response.headers["x-amzn-RequestId"] = request_id
        return response


# -- routing and decoding requests ---------------------------------------------------------------


class _Route:
    def __init__(self, operation: OperationModel) -> None:
        self.operation = operation
        self.method = operation.http["method"].upper()
        template, _, literal_query = operation.http["requestUri"].partition("?")
        self.literal_query = parse_qs(literal_query, keep_blank_values=True)
        pattern, self.labels, literal = "", {}, 0
        for index, part in enumerate(re.split(r"(\{[^}]+\})", template)):
            if part.startswith("{"):
                name = part[1:-1]
                greedy = name.endswith("+")
                self.labels[f"l{index}"] = name.rstrip("+")
                pattern += f"(?P<l{index}>.+)" if greedy else f"(?P<l{index}>[^/]+)"
            else:
                pattern += re.escape(part)
                literal += len(part)
        self.regex = re.compile(pattern)
        # A more literal template wins: `/custom-models/import` before `/custom-models/{id}`.
        self.rank = (-literal - len(self.literal_query), "+" in template)

    def match(self, method: str, path: str, query: dict[str, list[str]]) -> dict[str, str] | None:
        if method != self.method:
            return None
        found = self.regex.fullmatch(path)
        if found is None:
            return None
        for key, values in self.literal_query.items():
            if key not in query or (values != [""] and query[key] != values):
                return None
        return {self.labels[group]: unquote(value) for group, value in found.groupdict().items()}


class _Router:
    def __init__(self, model) -> None:
        routes = [_Route(model.operation_model(name)) for name in model.operation_names]
        self.routes = sorted(routes, key=lambda route: route.rank)
        self.name = model.service_name

    def parse(
        self, method: str, path: str, query_string: str, headers: dict[str, str], body: bytes
    ) -> tuple[OperationModel, dict[str, Any]]:
        query = parse_qs(query_string, keep_blank_values=True)
        for route in self.routes:
            labels = route.match(method, path, query)
            if labels is not None:
                return route.operation, _decode_input(route.operation, labels, query, headers, body)
        raise _Refusal(404, "UnknownOperationException", f"No {self.name} operation is {method} {path}.")


def _decode_input(
    operation: OperationModel, labels: dict[str, str], query: dict[str, list[str]], headers: dict[str, str], body: bytes
) -> dict[str, Any]:
    shape = operation.input_shape
    if shape is None:
        return {}
    if operation.has_event_stream_input:
        raise _Refusal(400, "ValidationException", f"{operation.name}: event streams are not served by the HTTP front.")
    params: dict[str, Any] = {}
    body_members: dict[str, Shape] = {}
    payload = shape.serialization.get("payload")
    bound = {
        m.serialization.get("name", n)
        for n, m in shape.members.items()
        if m.serialization.get("location") == "querystring"
    }
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        wire = member.serialization.get("name", name)
        if location == "uri":
            if wire in labels:
                params[name] = labels[wire]
        elif location == "querystring":
            if member.type_name == "map":  # every query parameter not bound to another member
                rest = {key: values for key, values in query.items() if key not in bound}
                if rest:
                    many = member.value.type_name == "list"
                    params[name] = {key: values if many else values[-1] for key, values in rest.items()}
            elif wire in query:
                values = query[wire]
                if member.type_name == "list":
                    params[name] = [_scalar(member.member, value) for value in values]
                else:
                    params[name] = _scalar(member, values[-1])
        elif location == "header":
            value = headers.get(wire.lower())
            if value is not None:
                params[name] = _header_value(member, value)
        elif location == "headers":
            prefix = wire.lower()
            found = {key[len(prefix) :]: value for key, value in headers.items() if key.startswith(prefix)}
            if found:
                params[name] = found
        elif name == payload:
            if member.type_name == "blob":
                if body:
                    params[name] = body
            elif member.type_name == "string":
                if body:
                    params[name] = body.decode("utf-8")
            elif body:
                params[name] = _from_json(member, _json_body(body))
        elif location is None:
            body_members[name] = member
    if body_members and payload is None and body:
        document = _json_body(body)
        if not isinstance(document, dict):
            raise _Refusal(400, "SerializationException", "The request body is not a JSON object.")
        for name, member in body_members.items():
            wire = member.serialization.get("name", name)
            if document.get(wire) is not None:
                params[name] = _from_json(member, document[wire])
    return params


def _json_body(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError as bad:
        raise _Refusal(400, "SerializationException", f"The request body is not JSON: {bad}") from None


def _scalar(shape: Shape, text: str) -> Any:
    """A query-string or header value of a scalar shape."""
    kind = shape.type_name
    try:
        if kind in ("integer", "long"):
            return int(text)
        if kind in ("float", "double"):
            return float(text)
        if kind == "boolean":
            return text.lower() == "true"
        if kind == "timestamp":
            return _utc(parse_timestamp(text))
        if kind == "blob":
            return base64.b64decode(text)
    except (ValueError, TypeError) as bad:
        raise _Refusal(400, "SerializationException", f"{text!r} is not a {kind}: {bad}") from None
    return text


def _header_value(shape: Shape, text: str) -> Any:
    if shape.serialization.get("jsonvalue"):
        return json.loads(base64.b64decode(text))
    if shape.type_name == "list":
        return [_scalar(shape.member, part.strip()) for part in text.split(",")]
    return _scalar(shape, text)


def _from_json(shape: Shape, value: Any) -> Any:
    """A JSON body value as boto3 gives it to a client call (timestamps as datetimes, blobs as bytes)."""
    if value is None:
        return None
    kind = shape.type_name
    if kind == "structure":
        if shape.is_document_type:
            return value
        members = shape.members
        out = {}
        for name, member in members.items():
            wire = member.serialization.get("name", name)
            if value.get(wire) is not None:
                out[name] = _from_json(member, value[wire])
        return out
    if kind == "list":
        return [_from_json(shape.member, item) for item in value]
    if kind == "map":
        return {key: _from_json(shape.value, item) for key, item in value.items()}
    if kind == "timestamp":
        return _utc(parse_timestamp(value))
    if kind == "blob":
        return base64.b64decode(value)
    return value


# -- encoding responses ------------------------------------------------------------------------------


class _Response:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body


def _encode_output(operation: OperationModel, answer: dict[str, Any]) -> _Response:
    shape = operation.output_shape
    headers = {"Content-Type": "application/json"}
    if shape is None:
        return _Response(200, headers, b"{}")
    if operation.has_event_stream_output:
        raise _Failure(f"{operation.name}: event streams are not served by the HTTP front.")
    payload = shape.serialization.get("payload")
    document: dict[str, Any] = {}
    body: bytes | None = None
    for name, member in shape.members.items():
        if answer.get(name) is None:
            continue
        value, location = answer[name], member.serialization.get("location")
        wire = member.serialization.get("name", name)
        if location == "header":
            headers = {key: item for key, item in headers.items() if key.lower() != wire.lower()}
            headers[wire] = _header_text(member, value)
        elif location == "headers":
            headers.update({f"{wire}{key}": str(item) for key, item in value.items()})
        elif location == "statusCode":
            continue  # the status is the handler's
        elif name == payload:
            if member.type_name == "blob":
                body = value if isinstance(value, bytes) else value.read()
            elif member.type_name == "string":
                body = value.encode("utf-8")
            else:
                body = json.dumps(_to_json(member, value)).encode("utf-8")
        else:
            document[member.serialization.get("name", name)] = _to_json(member, value)
    if body is None:
        body = json.dumps(document).encode("utf-8") if payload is None or document else b""
    return _Response(200, headers, body)


def _to_json(shape: Shape, value: Any) -> Any:
    kind = shape.type_name
    if kind == "structure":
        if shape.is_document_type:
            return value
        return {
            member.serialization.get("name", name): _to_json(member, value[name])
            for name, member in shape.members.items()
            if value.get(name) is not None
        }
    if kind == "list":
        return [_to_json(shape.member, item) for item in value]
    if kind == "map":
        return {key: _to_json(shape.value, item) for key, item in value.items()}
    if kind == "timestamp":
        return _timestamp(value, shape.serialization.get("timestampFormat", "unixTimestamp"))
    if kind == "blob":
        return base64.b64encode(value if isinstance(value, bytes) else value.encode("utf-8")).decode("ascii")
    return value


def _header_text(shape: Shape, value: Any) -> str:
    if shape.serialization.get("jsonvalue"):
        return base64.b64encode(json.dumps(value, separators=(",", ":")).encode("utf-8")).decode("ascii")
    kind = shape.type_name
    if kind == "timestamp":
        return str(_timestamp(value, shape.serialization.get("timestampFormat", "rfc822")))
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "list":
        return ",".join(_header_text(shape.member, item) for item in value)
    if kind == "blob":
        return base64.b64encode(value).decode("ascii")
    return str(value)


def _timestamp(value: Any, timestamp_format: str) -> str | float:
    if isinstance(value, str):
        value = parse_timestamp(value)
    if isinstance(value, int | float):
        value = dt.datetime.fromtimestamp(value, dt.UTC)
    value = _utc(value)
    if timestamp_format == "iso8601":
        return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if value.microsecond else "%Y-%m-%dT%H:%M:%SZ")
    if timestamp_format == "rfc822":
        return email.utils.format_datetime(value, usegmt=True)
    return value.timestamp()


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


# -- errors --------------------------------------------------------------------------------------


class _Refusal(Exception):
    """An error response in the rest-json form botocore parses into `ClientError`."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def response(self) -> _Response:
        body = json.dumps({"message": self.message}).encode("utf-8")
        return _Response(self.status, {"Content-Type": "application/json", "x-amzn-ErrorType": self.code}, body)


class _Failure(Exception):
    """The emulation's fault, not the caller's."""


# -- the HTTP server --------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    front: EmulatorServer

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def process_request(self, request, client_address) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """End kept-alive connections too: a stopped server answers nothing."""
        with self._open_lock:
            open_now = list(self._open)
        for connection in open_now:
            with contextlib.suppress(OSError):  # already closed by the client
                connection.shutdown(socket.SHUT_RDWR)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as botocore's connection pool expects
    server: _Server

    def _serve(self) -> None:
        headers = {key.lower(): value for key, value in self.headers.items()}
        body = self._read_body(headers)
        target = self.path if self.path.startswith("/") else urlsplit(self.path)._replace(scheme="", netloc="").geturl()
        response = self.server.front._respond(self.command, target, headers, body)
        self.send_response(response.status)
        for key, value in response.headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _serve

    def _read_body(self, headers: dict[str, str]) -> bytes:
        if "chunked" in headers.get("transfer-encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline().strip():  # trailers
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(headers.get("content-length") or 0))

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read `failures`
        pass
