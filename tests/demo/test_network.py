"""The demo's users reach the API through the project's client, each from its own address, with no cookies."""

from marketplace.demo.network import Network


def test_each_simulated_user_calls_from_its_own_address_with_no_cookie_and_every_request_is_counted():
    seen: list[tuple[str, str | None]] = []

    def app(environ, start_response):
        seen.append((environ["REMOTE_ADDR"], environ.get("HTTP_COOKIE")))
        headers = [("Content-Type", "application/json"), ("Set-Cookie", "sessionid=abc; Path=/")]
        start_response("200 OK", headers)
        return [b'{"email": "someone@example.com"}']

    network = Network("http://testserver", wsgi_app=app)
    first, second = network.client("10.1.0.1"), network.client("10.1.0.2")
    first.me(), first.me(), second.me()

    assert seen == [("10.1.0.1", None), ("10.1.0.1", None), ("10.1.0.2", None)]
    assert network.requests == 3
