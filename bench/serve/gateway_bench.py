"""Side by side in one run: the same local upstream called directly, through `llmux serve`, and through
LiteLLM's proxy (`litellm[proxy]` from PyPI).

Every request is an OpenAI streamed chat completion of TOKENS tokens, sent one at a time on a keep-alive
connection, timed from the request's first byte to the stream's last. The targets take turns in blocks
(direct, llmux, litellm, direct, ...), so a busy machine slows all of them alike. Reported per target: p50
and p99 of the whole stream, the latency added over calling the upstream directly, and the CPU the
gateway process (with its children) spent per streamed token, read from /proc around the measured blocks
only (after a warm-up).

    python3 gateway_bench.py --llmux PATH/TO/release/llmux --litellm PATH/TO/venv/bin/litellm

The upstream is a raw asyncio HTTP/1.1 server in its own process (pre-rendered answers, each SSE event its
own HTTP chunk), the same for every target; its cost is in every column and in none of the CPU numbers.
"""

import argparse
import asyncio
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

TICK = os.sysconf("SC_CLK_TCK")
# The one client key: both gateways check it (LiteLLM refuses to start without a master key).
KEY = "sk-" + "5e" * 32


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- the upstream -------------------------------------------------------------------------------------


def render_stream(tokens):
    def chunk(payload):
        data = b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"
        return b"%x\r\n%s\r\n" % (len(data), data)

    base = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1, "model": "bench"}
    out = [chunk({**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]})]
    for i in range(tokens):
        out.append(chunk({**base, "choices": [{"index": 0, "delta": {"content": "tok%d " % (i % 10)}, "finish_reason": None}]}))
    out.append(chunk({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                      "usage": {"prompt_tokens": 5, "completion_tokens": tokens, "total_tokens": tokens + 5}}))
    done = b"data: [DONE]\n\n"
    out.append(b"%x\r\n%s\r\n" % (len(done), done))
    out.append(b"0\r\n\r\n")
    head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
    return head + b"".join(out)


def upstream(port, tokens):
    stream = render_stream(tokens)
    body = json.dumps({"id": "chatcmpl-bench", "object": "chat.completion", "created": 1, "model": "bench",
                       "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
                       "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6}}).encode()
    whole = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body)
    models = json.dumps({"object": "list", "data": [{"id": "bench", "object": "model", "owned_by": "bench"}]}).encode()
    listing = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (len(models), models)

    async def handle(reader, writer):
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                request = await reader.readexactly(length) if length else b""
                if head.startswith(b"GET"):
                    writer.write(listing)
                elif b'"stream":true' in request.replace(b" ", b""):
                    writer.write(stream)
                else:
                    writer.write(whole)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    async def main():
        server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


# ---- measuring ----------------------------------------------------------------------------------------


def cpu_seconds(root_pid):
    """User + system CPU of `root_pid` and every live descendant."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                parents[int(entry)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
            except (OSError, IndexError, ValueError):
                pass
    tree, total, changed = {root_pid}, 0, True
    while changed:
        changed = False
        for pid, (ppid, _) in parents.items():
            if ppid in tree and pid not in tree:
                tree.add(pid)
                changed = True
    for pid in tree:
        if pid in parents:
            total += parents[pid][1]
    return total / TICK


class Target:
    def __init__(self, name, port, path, pid):
        self.name, self.port, self.path, self.pid = name, port, path, pid
        self.conn = None
        self.latencies = []
        self.first = []
        self.cpu = 0.0
        self.tokens = 0

    def request(self, body):
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        start = time.perf_counter()
        self.conn.request("POST", self.path, body=body,
                          headers={"content-type": "application/json", "authorization": "Bearer " + KEY})
        response = self.conn.getresponse()
        data = response.read1(65536)
        first = time.perf_counter() - start
        data += response.read()
        elapsed = time.perf_counter() - start
        if response.status != 200 or b"[DONE]" not in data:
            raise RuntimeError("%s answered %d: %r" % (self.name, response.status, data[:300]))
        return first, elapsed


def wait_http(port, path, bound=180):
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", path)
            if c.getresponse().status < 500:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("nothing answered on port %d within %d s" % (port, bound))


def pct(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--llmux", required=True)
    ap.add_argument("--litellm")
    ap.add_argument("--tokens", type=int, default=100)
    ap.add_argument("--blocks", type=int, default=10)
    ap.add_argument("--per-block", type=int, default=30)
    ap.add_argument("--upstream", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.upstream:
        upstream(args.upstream, args.tokens)
        return
    scratch = tempfile.mkdtemp(prefix="gateway-bench-")
    children = []
    try:
        up = free_port()
        children.append(subprocess.Popen([sys.executable, __file__, "--llmux", "-", "--upstream", str(up),
                                          "--tokens", str(args.tokens)]))
        wait_http(up, "/v1/models")
        targets = [Target("direct", up, "/v1/chat/completions", children[0].pid)]

        chain = os.path.join(scratch, "chain.toml")
        with open(chain, "w") as f:
            f.write('[[entry]]\nprovider = "openai"\nmodel = "bench"\nbase_url = "http://127.0.0.1:%d/v1"\n' % up)
        lp = free_port()
        env = {"PATH": os.environ.get("PATH", ""), "HOME": scratch, "OPENAI_API_KEY": "sk-upstream",
               "LLMUX_GATEWAY_KEYS": KEY}
        llmux = subprocess.Popen([args.llmux, "serve", "--chain", chain, "--listen", "127.0.0.1:%d" % lp,
                                  "--max-retries", "0"], env=env, stderr=subprocess.DEVNULL)
        children.append(llmux)
        wait_http(lp, "/health")
        targets.append(Target("llmux serve", lp, "/v1/chat/completions", llmux.pid))

        if args.litellm:
            config = os.path.join(scratch, "litellm.yaml")
            with open(config, "w") as f:
                f.write("model_list:\n  - model_name: bench\n    litellm_params:\n      model: openai/bench\n"
                        "      api_base: http://127.0.0.1:%d/v1\n      api_key: sk-upstream\n"
                        "litellm_settings:\n  telemetry: false\n  drop_params: true\n" % up)
            pp = free_port()
            penv = dict(env, LITELLM_MASTER_KEY=KEY, LITELLM_LOG="ERROR", LITELLM_TELEMETRY="False", HF_HUB_OFFLINE="1",
                        LITELLM_LOCAL_MODEL_COST_MAP="True", NO_DOCS="True")
            proxy = subprocess.Popen([args.litellm, "--config", config, "--host", "127.0.0.1", "--port", str(pp),
                                      "--num_workers", "1"], env=penv, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
            children.append(proxy)
            wait_http(pp, "/health/liveliness")
            targets.append(Target("LiteLLM proxy", pp, "/v1/chat/completions", proxy.pid))

        body = json.dumps({"model": "bench", "stream": True,
                           "messages": [{"role": "user", "content": "hello"}]}).encode()
        for t in targets:
            for _ in range(30):
                t.request(body)
        for _ in range(args.blocks):
            for t in targets:
                before = cpu_seconds(t.pid)
                for _ in range(args.per_block):
                    first, whole = t.request(body)
                    t.first.append(first)
                    t.latencies.append(whole)
                t.cpu += cpu_seconds(t.pid) - before
                t.tokens += args.per_block * args.tokens
        direct = targets[0]
        d50, d99 = statistics.median(direct.latencies), pct(direct.latencies, 99)
        f50 = statistics.median(direct.first)
        print("| target | first byte p50 ms | added | whole stream p50 ms | p99 ms | added p50 ms | added p99 ms | CPU µs/token |")
        print("|---|---|---|---|---|---|---|---|")
        for t in targets:
            p50, p99 = statistics.median(t.latencies), pct(t.latencies, 99)
            added = "— | —" if t is direct else "%.2f | %.2f" % ((p50 - d50) * 1e3, (p99 - d99) * 1e3)
            cpu = "(upstream)" if t is direct else "%.2f" % (t.cpu / t.tokens * 1e6)
            first = statistics.median(t.first)
            fadded = "—" if t is direct else "%.2f" % ((first - f50) * 1e3)
            print("| %s | %.2f | %s | %.2f | %.2f | %s | %s |" % (t.name, first * 1e3, fadded, p50 * 1e3, p99 * 1e3, added, cpu))
        print("\n%d streamed requests per target of %d tokens, in %d alternating blocks; CPU from /proc "
              "(%d Hz ticks)." % (args.blocks * args.per_block, args.tokens, args.blocks, TICK))
    finally:
        for c in children:
            c.terminate()
        for c in children:
            try:
                c.wait(timeout=10)
            except subprocess.TimeoutExpired:
                c.kill()


if __name__ == "__main__":
    main()
