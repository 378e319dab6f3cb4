"""One process's address book: each address claimed once, never past the target."""

from crawlers.emails.addresses import LocalAddresses


def test_claims_each_address_once_in_order():
    book = LocalAddresses()
    assert book.claim(["a@x.com", "b@x.com"]) == ["a@x.com", "b@x.com"]
    assert book.claim(["b@x.com", "c@x.com", "a@x.com"]) == ["c@x.com"]
    assert book.count == 3
    assert not book.full


def test_target_is_never_passed():
    book = LocalAddresses(target=3)
    assert book.claim(["a@x.com", "b@x.com"]) == ["a@x.com", "b@x.com"]
    assert book.claim(["a@x.com", "c@x.com", "d@x.com"]) == ["c@x.com"]
    assert book.full
    assert book.claim(["e@x.com"]) == []
    assert book.count == 3
