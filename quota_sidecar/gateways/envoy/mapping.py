"""A ShouldRateLimit request -> the subjects of one check, and how many hits it counts.

* Each descriptor entry (key, value) maps to a subject by the domain's mappings; a descriptor
  with several mapped entries maps to several subjects. Entries whose key is not mapped are
  ignored; a descriptor none of whose entries map is "unmapped" (answered OK, and counted).
* The subjects of all descriptors are checked together, once: one request is one atomic check
  (a subject named by two descriptors is counted once, not twice).
* Hits: the descriptor's own `hits_addend` when set (0 included: a look that counts nothing),
  else the request's `hits_addend`, where 0 means 1 (as the field is documented). One check
  counts one number of hits, so mapped descriptors that ask for different counts are refused.
* `hits: requests` counts the hits as requests; `hits: tokens` counts them as tokens of one
  request (no request at all for a look of 0 hits).
* A descriptor's `limit` override is ignored: the quotas in the store are the limits.
"""

from __future__ import annotations

from dataclasses import dataclass

from envoy.extensions.common.ratelimit.v3 import ratelimit_pb2
from envoy.service.ratelimit.v3 import rls_pb2

from quota_sidecar.config.gateways import EnvoyDomain, EnvoyGateway, HitsUnit
from quota_sidecar.domain.errors import InvalidInput
from quota_sidecar.domain.models import Subject
from quota_sidecar.domain.validation import MAX_SUBJECTS, MAX_TOKENS

__all__ = ["UNKNOWN_DOMAIN", "DescriptorPlan", "RequestPlan", "plan_request"]

# The metrics label of a domain the quota file does not name (a client chooses domains, so
# its text must not become a label).
UNKNOWN_DOMAIN = "(unknown)"


@dataclass(frozen=True, slots=True)
class DescriptorPlan:
    """The subjects one descriptor maps to (none: unmapped)."""

    subjects: tuple[Subject, ...]


@dataclass(frozen=True, slots=True)
class RequestPlan:
    """One ShouldRateLimit as one check."""

    domain_label: str  # the configured domain, or UNKNOWN_DOMAIN
    descriptors: tuple[DescriptorPlan, ...]
    subjects: tuple[Subject, ...]  # every mapped subject once, in descriptor order
    hits: int
    unit: HitsUnit
    shadow_mode: bool

    @property
    def requests(self) -> int:
        """The requests the check counts in the request windows."""
        if self.unit is HitsUnit.REQUESTS:
            return self.hits
        return 1 if self.hits > 0 else 0

    @property
    def tokens(self) -> int:
        """The tokens the check counts in the token windows."""
        return self.hits if self.unit is HitsUnit.TOKENS else 0

    @property
    def unmapped(self) -> int:
        return sum(1 for d in self.descriptors if not d.subjects)


def plan_request(gateway: EnvoyGateway, request: rls_pb2.RateLimitRequest) -> RequestPlan:
    """The check a request stands for; InvalidInput naming the field of a bad request."""
    domain = gateway.domain(request.domain)
    descriptors: list[DescriptorPlan] = []
    subjects: list[Subject] = []
    hits: int | None = None
    hits_from = "hits_addend"  # the field the count came from, to name in an error
    default_hits = request.hits_addend or 1
    for index, descriptor in enumerate(request.descriptors):
        at = f"descriptors[{index}]"
        mapped = _subjects(domain, descriptor, at) if domain is not None else ()
        descriptors.append(DescriptorPlan(mapped))
        if not mapped:
            continue
        own = descriptor.hits_addend.value if descriptor.HasField("hits_addend") else None
        wanted = default_hits if own is None else own
        if hits is not None and wanted != hits:
            raise InvalidInput(
                f"{at}.hits_addend",
                f"asks for {wanted} hits where {hits_from} asks for {hits}: one request is one "
                "check, which counts one number of hits",
            )
        if hits is None:
            hits = wanted
            hits_from = "hits_addend" if own is None else f"{at}.hits_addend"
        subjects += [s for s in mapped if s not in subjects]
    if len(subjects) > MAX_SUBJECTS:
        raise InvalidInput(
            "descriptors",
            f"map to {len(subjects)} subjects; one check takes at most {MAX_SUBJECTS}",
        )
    hits = default_hits if hits is None else hits
    if hits > MAX_TOKENS:
        raise InvalidInput(hits_from, f"must be at most {MAX_TOKENS}, got {hits}")
    return RequestPlan(
        domain_label=domain.domain if domain is not None else UNKNOWN_DOMAIN,
        descriptors=tuple(descriptors),
        subjects=tuple(subjects),
        hits=hits,
        unit=domain.hits if domain is not None else HitsUnit.REQUESTS,
        shadow_mode=gateway.shadow_mode,
    )


def _subjects(
    domain: EnvoyDomain, descriptor: ratelimit_pb2.RateLimitDescriptor, at: str
) -> tuple[Subject, ...]:
    found: list[Subject] = []
    for index, entry in enumerate(descriptor.entries):
        mapping = domain.mapping_for(entry.key, entry.value)
        if mapping is None:
            continue
        try:
            subject = mapping.subject_for(entry.value)
        except InvalidInput as exc:
            raise InvalidInput(f"{at}.entries[{index}].value", exc.message) from None
        if subject not in found:
            found.append(subject)
    return tuple(found)
