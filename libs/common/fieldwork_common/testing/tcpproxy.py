"""A TCP proxy for fault-injection tests.

    proxy = TcpProxy("127.0.0.1", 5432).start()
    # give the process under test 127.0.0.1:<proxy.port> instead of the server
    proxy.cut()       # every open connection is closed, both ways; new ones refused
    proxy.restore()   # new connections are forwarded again
    proxy.stop()

`cut()` closes both sockets of every open connection (the client sees its
connection drop, the server sees its client go away) and, by default,
refuses new connections: each one is accepted and closed at once, so a
client fails fast exactly as it would against a server that went away
(`cut(mode="hold")` instead keeps new connections waiting, unanswered, and
forwards them on `restore()`, like a network partition that heals).

One thread accepts; each connection is served by two pump threads (one per
direction). Only 127.0.0.1 is listened on.
"""
import logging
import socket
import struct
import threading

log = logging.getLogger(__name__)

REFUSE = "refuse"
HOLD = "hold"


class _Link:
    """One proxied connection: the client's socket and the upstream one."""

    def __init__(self, proxy, client, upstream):
        self.proxy = proxy
        self.client = client
        self.upstream = upstream
        self._closed = False
        self._lock = threading.Lock()

    def start(self):
        for source, sink in ((self.client, self.upstream), (self.upstream, self.client)):
            threading.Thread(target=self._pump, args=(source, sink), daemon=True,
                             name=f"tcpproxy-{self.proxy.port}-pump").start()

    def _pump(self, source, sink):
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            self.close()

    def close(self, reset=False):
        with self._lock:
            if self._closed:
                return
            self._closed = True
        for sock in (self.client, self.upstream):
            try:
                if reset:
                    # linger 0: close() sends RST instead of FIN. SHUT_RD
                    # wakes the pump blocked in recv() without sending
                    # anything, so the close really happens now.
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                    struct.pack("ii", 1, 0))
                    sock.shutdown(socket.SHUT_RD)
                else:
                    sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                sock.close()
            except OSError:
                pass
        self.proxy._forget(self)


class TcpProxy:
    """Listens on 127.0.0.1:`port` (a free one by default) and forwards to
    `target_host`:`target_port`.

    Counters: `accepted` (connections accepted in all), `forwarded`
    (connected to the target), `refused` (closed at once because the proxy
    was cut), `cut_connections` (open connections closed by `cut()`), and
    `active` (open now)."""

    def __init__(self, target_host, target_port, port=0, connect_timeout=5.0):
        self.target = (target_host, int(target_port))
        self.connect_timeout = connect_timeout
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", port))
        self._listener.listen(128)
        self.host, self.port = self._listener.getsockname()
        self._lock = threading.Lock()
        self._links = set()
        self._held = []
        self._mode = None          # None: forwarding; REFUSE or HOLD: cut
        self._stopped = threading.Event()
        self._thread = None
        self.accepted = 0
        self.forwarded = 0
        self.refused = 0
        self.cut_connections = 0

    # --- life cycle --------------------------------------------------------

    def start(self):
        self._thread = threading.Thread(target=self._accept_loop, daemon=True,
                                        name=f"tcpproxy-{self.port}")
        self._thread.start()
        return self

    def __enter__(self):
        return self.start() if self._thread is None else self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        """Stop listening and close every connection."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        try:
            # wake accept(): connect to ourselves, then close the listener
            socket.create_connection((self.host, self.port), timeout=1).close()
        except OSError:
            pass
        try:
            self._listener.close()
        except OSError:
            pass
        if self._thread is not None:
            self._thread.join(5)
        self._close_all()
        with self._lock:
            held, self._held = self._held, []
        for sock in held:
            _close(sock)

    # --- faults ------------------------------------------------------------

    @property
    def is_cut(self):
        return self._mode is not None

    @property
    def active(self):
        with self._lock:
            return len(self._links)

    @property
    def address(self):
        return f"{self.host}:{self.port}"

    def cut(self, mode=REFUSE, reset=False):
        """Close every open connection both ways (with RST if `reset`), then
        refuse new ones (`mode="refuse"`: accepted and closed at once) or
        keep them waiting until `restore()` (`mode="hold"`). Returns how many
        open connections were closed."""
        if mode not in (REFUSE, HOLD):
            raise ValueError(f"mode must be {REFUSE!r} or {HOLD!r}")
        with self._lock:
            self._mode = mode
        closed = self._close_all(reset=reset)
        with self._lock:
            self.cut_connections += closed
        log.info("proxy %s -> %s:%s cut (%s), %d connections closed",
                 self.address, *self.target, mode, closed)
        return closed

    def restore(self):
        """Forward new connections again (and the held ones, if any)."""
        with self._lock:
            self._mode = None
            held, self._held = self._held, []
        for sock in held:
            self._forward(sock)
        log.info("proxy %s -> %s:%s restored", self.address, *self.target)

    # --- internals ---------------------------------------------------------

    def _accept_loop(self):
        while not self._stopped.is_set():
            try:
                sock, _ = self._listener.accept()
            except OSError:
                if self._stopped.is_set():
                    return
                continue
            if self._stopped.is_set():
                _close(sock)
                return
            with self._lock:
                self.accepted += 1
                mode = self._mode
                if mode == HOLD:
                    self._held.append(sock)
                    continue
                if mode == REFUSE:
                    self.refused += 1
            if mode == REFUSE:
                _close(sock)
                continue
            # connect upstream off the accept thread: a slow target must not
            # hold up other clients
            threading.Thread(target=self._forward, args=(sock,), daemon=True).start()

    def _forward(self, client):
        try:
            upstream = socket.create_connection(self.target, timeout=self.connect_timeout)
            upstream.settimeout(None)
        except OSError as exc:
            log.warning("proxy %s cannot reach %s:%s: %s", self.address, *self.target, exc)
            _close(client)
            return
        for sock in (client, upstream):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        link = _Link(self, client, upstream)
        with self._lock:
            if self._mode is not None or self._stopped.is_set():
                # cut while we were connecting: this one is cut too
                refuse = True
            else:
                refuse = False
                self._links.add(link)
                self.forwarded += 1
        if refuse:
            _close(client)
            _close(upstream)
            return
        link.start()

    def _forget(self, link):
        with self._lock:
            self._links.discard(link)

    def _close_all(self, reset=False):
        with self._lock:
            links = list(self._links)
        for link in links:
            link.close(reset=reset)
        return len(links)


def _close(sock):
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass
