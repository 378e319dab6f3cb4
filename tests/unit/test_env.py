from crawlers.env import redact_url


def test_redact_url_hides_password_only():
    url = "postgresql://crawler:s3cret@db.example:5432/crawl"
    redacted = redact_url(url)
    assert "s3cret" not in redacted
    assert redacted == "postgresql://crawler:***@db.example:5432/crawl"


def test_redact_url_without_password_is_unchanged():
    assert redact_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
    assert redact_url("") == ""


def test_redact_url_hides_password_query_parameters():
    url = "postgresql://127.0.0.1:5432/x?user=bob&password=pw-y&sslmode=disable"
    redacted = redact_url(url)
    assert "pw-y" not in redacted
    assert redacted == "postgresql://127.0.0.1:5432/x?user=bob&password=***&sslmode=disable"
