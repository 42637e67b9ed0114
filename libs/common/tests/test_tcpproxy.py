"""The fault-injection TCP proxy, against a tiny echo server (no broker)."""
import socket
import threading

import pytest

from fieldwork_common.testing.tcpproxy import TcpProxy
from fieldwork_common.testing.waiting import wait_until


class EchoServer:
    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.closed_by_peer = 0
        self._stop = False
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._echo, args=(conn,), daemon=True).start()

    def _echo(self, conn):
        try:
            while True:
                data = conn.recv(4096)
                if not data:
                    break
                conn.sendall(data)
        except OSError:
            pass
        finally:
            self.closed_by_peer += 1
            conn.close()

    def stop(self):
        self._stop = True
        self.sock.close()


@pytest.fixture
def echo():
    server = EchoServer()
    yield server
    server.stop()


@pytest.fixture
def proxy(echo):
    p = TcpProxy("127.0.0.1", echo.port).start()
    yield p
    p.stop()


def connect(proxy):
    sock = socket.create_connection(("127.0.0.1", proxy.port), timeout=3)
    return sock


def roundtrip(sock, payload=b"ping"):
    sock.sendall(payload)
    got = b""
    while len(got) < len(payload):
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("closed")
        got += chunk
    return got


def is_closed(sock):
    """True when the peer closed the connection (EOF or reset)."""
    try:
        sock.sendall(b"x")
        return sock.recv(1) == b""
    except OSError:
        return True


def test_it_listens_on_a_free_local_port_and_forwards_both_ways(proxy, echo):
    assert proxy.host == "127.0.0.1" and proxy.port not in (0, echo.port)
    with connect(proxy) as sock:
        assert roundtrip(sock, b"hello") == b"hello"
        big = bytes(range(256)) * 2000  # 512 kB, several reads each way
        assert roundtrip(sock, big) == big
    assert proxy.accepted == 1 and proxy.forwarded == 1


def test_cut_closes_every_open_connection_both_ways(proxy, echo):
    socks = [connect(proxy) for _ in range(3)]
    for s in socks:
        assert roundtrip(s) == b"ping"
    assert proxy.active == 3

    assert proxy.cut() == 3

    for s in socks:
        assert is_closed(s)  # the client side is closed
        s.close()
    wait_until(lambda: echo.closed_by_peer == 3, 5, message="server side closed")
    assert proxy.active == 0 and proxy.cut_connections == 3


def test_while_cut_new_connections_are_refused_by_default(proxy, echo):
    proxy.cut()
    assert proxy.is_cut
    for _ in range(2):
        with connect(proxy) as sock:  # accepted, then closed at once
            assert is_closed(sock)
    assert proxy.refused == 2
    assert echo.connections == 0


def test_restore_forwards_new_connections_again(proxy, echo):
    with connect(proxy) as before:
        roundtrip(before)
        proxy.cut()
        assert is_closed(before)
    proxy.restore()
    assert not proxy.is_cut
    with connect(proxy) as after:
        assert roundtrip(after, b"again") == b"again"
    assert proxy.forwarded == 2


def test_hold_keeps_new_connections_waiting_until_restore(proxy, echo):
    proxy.cut(mode="hold")
    sock = connect(proxy)
    sock.settimeout(0.3)
    sock.sendall(b"held")
    with pytest.raises(socket.timeout):
        sock.recv(4)  # nobody answers while held
    assert echo.connections == 0
    proxy.restore()
    sock.settimeout(3)
    assert sock.recv(4) == b"held"  # what was sent while held goes through
    sock.close()


def test_reset_cut_sends_rst(proxy):
    sock = connect(proxy)
    roundtrip(sock)
    proxy.cut(reset=True)
    with pytest.raises(ConnectionResetError):
        sock.recv(1)
    sock.close()


def test_an_unreachable_target_closes_the_client(echo):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]  # nothing listens there once closed
    with TcpProxy("127.0.0.1", dead_port) as p:
        with connect(p) as sock:
            assert is_closed(sock)


def test_stop_closes_connections_and_the_port(echo):
    p = TcpProxy("127.0.0.1", echo.port).start()
    sock = connect(p)
    roundtrip(sock)
    p.stop()
    assert is_closed(sock)
    sock.close()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", p.port), timeout=1).close()
    p.stop()  # idempotent
