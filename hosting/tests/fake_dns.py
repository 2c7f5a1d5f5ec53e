"""The resolver of the tests (PAAS_DNS_RESOLVER, set for every test and every process the
tests start, conftest.py): answers come from `FakeResolver.zone`, which the `fake_dns`
fixture empties and a test fills; any other name does not exist. No DNS is ever queried."""

from __future__ import annotations

from hosting.dns import Answer, LookupFailed

PATH = "hosting.tests.fake_dns.FakeResolver"


class FakeResolver:
    # name → its answer (or LookupFailed to raise); shared by every instance.
    zone: dict[str, Answer | LookupFailed] = {}
    asked: list[str] = []

    def lookup(self, hostname: str) -> Answer:
        self.asked.append(hostname)
        answer = self.zone.get(hostname)
        if isinstance(answer, LookupFailed):
            raise answer
        return answer or Answer(hostname)


def cname(name: str, target: str, *addresses: str) -> Answer:
    """The answer for a name that is a CNAME to `target` (which has `addresses`)."""
    return Answer(target, addresses)


def a(name: str, *addresses: str) -> Answer:
    """The answer for a name with address records of its own."""
    return Answer(name, addresses)
