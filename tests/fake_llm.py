"""A misbehaving OpenAI-compatible endpoint on 127.0.0.1, started by the test that uses it.

`FakeLLM(mode)` answers every `POST /v1/chat/completions` (streamed, as the agent asks, or not) in one of these ways:
- `answer`: a plain answer;
- `hang`: never answers (the handler waits until the server is closed);
- `429` / `500`: that status with an OpenAI error body;
- `malformed`: a tool call whose arguments are not JSON;
- `endless`: a tool call every time (`get_readiness_score`), whatever the conversation holds;
- `cut`: starts streaming an answer, then closes the connection mid-stream;
- `text_call`: the final message is a tool call written as text, the way Qwen2.5 writes it;
- `echo`: the final message echoes a tool result inside `<tool_response>` tags;
- `say`: the final message is `self.text`.
`mode` may be changed between turns, or be a list: one mode per request, the last one repeating. `calls` counts
requests.
"""

from __future__ import annotations

import http.server
import json
import threading
from typing import Any

QWEN_CALL = '<tool_call>\n{"name": "get_readiness_score", "arguments": {}}\n</tool_call>'
ECHO = '<tool_response>\n{"ok": true, "data": {"score": 41.2, "tier": "Tier 3"}}\n</tool_response>'
ANSWER = "Your readiness is steady; keep registering deals."


class FakeLLM:
    def __init__(self, mode: str | list[str] = "answer") -> None:
        self.mode: str | list[str] = mode
        self.calls = 0
        self.text = ANSWER
        self.closed = threading.Event()
        self._lock = threading.Lock()
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                return

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                with fake._lock:
                    fake.calls += 1
                fake.handle(self, body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="fake-llm", daemon=True)
        self.thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self) -> None:
        self.closed.set()  # hung handlers return
        self.server.shutdown()
        self.server.server_close()

    # ---- answers ----------------------------------------------------------------------------------------------

    def handle(self, h: http.server.BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        with self._lock:
            if isinstance(self.mode, list):
                mode = self.mode.pop(0) if len(self.mode) > 1 else self.mode[0]
            else:
                mode = self.mode
        stream = bool(body.get("stream"))
        if mode == "hang":
            self.closed.wait(120)
            return
        if mode in ("429", "500"):
            payload = json.dumps({"error": {"message": f"fake {mode}", "type": "server_error", "code": mode}})
            self._send(h, int(mode), payload.encode(), "application/json", close=True)
            return
        if mode == "malformed":
            self._reply(h, stream, None, [{"name": "get_readiness_score", "arguments": "{\"partner\": p-004}"}])
        elif mode == "endless":
            self._reply(h, stream, None, [{"name": "get_readiness_score", "arguments": "{}"}])
        elif mode == "text_call":
            self._reply(h, stream, QWEN_CALL, None)
        elif mode == "echo":
            self._reply(h, stream, ECHO, None)
        elif mode == "say":
            self._reply(h, stream, self.text, None)
        elif mode == "cut":
            h.send_response(200)
            h.send_header("Content-Type", "text/event-stream")
            h.send_header("Content-Length", "100000")  # promises more than it sends
            h.end_headers()
            chunk = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "fake",
                     "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Your readiness"},
                                  "finish_reason": None}]}
            h.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            h.wfile.flush()
            h.close_connection = True
            h.connection.close()
        else:
            self._reply(h, stream, ANSWER, None)

    @staticmethod
    def _send(h: http.server.BaseHTTPRequestHandler, code: int, data: bytes, ctype: str, close: bool = False) -> None:
        h.send_response(code)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(data)))
        if close:
            h.send_header("Connection", "close")
        h.end_headers()
        h.wfile.write(data)
        h.wfile.flush()

    def _reply(self, h: http.server.BaseHTTPRequestHandler, stream: bool, content: str | None,
               calls: list[dict[str, str]] | None) -> None:
        n = self.calls
        wire = [{"index": i, "id": f"call_fake_{n}_{i}", "type": "function",
                 "function": {"name": c["name"], "arguments": c["arguments"]}} for i, c in enumerate(calls or [])]
        finish = "tool_calls" if calls else "stop"
        if not stream:
            message: dict[str, Any] = {"role": "assistant", "content": content}
            if wire:
                message["tool_calls"] = [{k: v for k, v in w.items() if k != "index"} for w in wire]
            data = {"id": f"fake-{n}", "object": "chat.completion", "created": 0, "model": "fake",
                    "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}
            self._send(h, 200, json.dumps(data).encode(), "application/json")
            return
        delta: dict[str, Any] = {"role": "assistant", "content": content or ""}
        if wire:
            delta["tool_calls"] = wire
        events = [{"choices": [{"index": 0, "delta": delta, "finish_reason": None}]},
                  {"choices": [{"index": 0, "delta": {}, "finish_reason": finish}]}]
        head = {"id": f"fake-{n}", "object": "chat.completion.chunk", "created": 0, "model": "fake"}
        out = b"".join(f"data: {json.dumps({**head, **e})}\n\n".encode() for e in events) + b"data: [DONE]\n\n"
        self._send(h, 200, out, "text/event-stream")


__all__ = ["ANSWER", "ECHO", "QWEN_CALL", "FakeLLM"]
