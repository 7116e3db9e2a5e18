"""What a run's file system costs in US dollars: its capacity (GiB) times the hours it lived times the deployment
type's price per GiB-month, divided by the hours in a month.

The workflow creates SCRATCH_2 file systems (``asl/prepare.py``: ``LustreConfiguration.DeploymentType``); FSx bills
their provisioned storage capacity per GB-month, prorated by the second (AWS, "Amazon FSx for Lustre pricing",
https://aws.amazon.com/fsx/lustre/pricing/). Storage is the whole of a scratch file system's price: no throughput,
backup or request charge applies to it.

The price table, with its source:

| Region    | SCRATCH_2 USD per GiB-month | source                                                                  |
|-----------|-----------------------------|-------------------------------------------------------------------------|
| us-east-1 | 0.140                       | Assumed (read 2026-12-04): AWS's pricing page, found by the project's   |
|           |                             | search, quotes its scratch example without the figure in the part read; |
|           |                             | 0.140 is the figure two third-party pages give for Scratch 2 in         |
|           |                             | us-east-1: learning-aws.readthedocs.io ("Cost considerations: S3 vs FSx |
|           |                             | for Lustre vs compute", ~$0.140 per GB-month) and a gist pricing 1.2 TB |
|           |                             | at $168 a month ($140/TB-month).                                         |

No figure for another Region was found: another Region is priced at us-east-1's figure (``assumed_region`` says
so), and a stack sets its own price with the stack config key ``lustrePricePerGibMonthUsd``. AWS quotes "GB-month"
for a capacity given in GiB; the figure is taken per GiB (Assumed). A month is 730 hours (8,760 hours a year / 12),
as AWS's pricing examples count it (Assumed: the page bills "average usage over a month").
"""

from __future__ import annotations

from dataclasses import dataclass

DEPLOYMENT_TYPE = "SCRATCH_2"  # what asl/prepare.py creates (tests/test_pricing.py checks it)
HOURS_PER_MONTH = 730.0
REFERENCE_REGION = "us-east-1"
# Region -> USD per GiB-month of SCRATCH_2 storage (module docstring: sources, dates, what is assumed).
SCRATCH_2_USD_PER_GIB_MONTH: dict[str, float] = {REFERENCE_REGION: 0.140}


@dataclass(frozen=True)
class Price:
    """A price per GiB-month and where it comes from."""

    usd_per_gib_month: float
    source: str  # "stack config", "table (us-east-1)", "table (us-east-1's, for eu-west-1)"

    @property
    def assumed_region(self) -> bool:
        return "for " in self.source


def price(region: str | None, override: str | float | None = None) -> Price:
    """The SCRATCH_2 price for ``region``: ``override`` (stack config ``lustrePricePerGibMonthUsd``) when set, else
    the table's figure for the Region, else us-east-1's (module docstring)."""
    if override not in (None, ""):
        return Price(float(override), "stack config lustrePricePerGibMonthUsd")
    region = region or REFERENCE_REGION
    if region in SCRATCH_2_USD_PER_GIB_MONTH:
        return Price(SCRATCH_2_USD_PER_GIB_MONTH[region], f"table ({region})")
    return Price(SCRATCH_2_USD_PER_GIB_MONTH[REFERENCE_REGION], f"table ({REFERENCE_REGION}'s, for {region})")


def gib_hours(capacity_gib: float, seconds: float) -> float:
    """Storage used: capacity times the hours it lived."""
    return capacity_gib * seconds / 3600.0


def fs_cost_usd(capacity_gib: float, seconds: float, usd_per_gib_month: float) -> float:
    """A file system's cost: GiB-hours times the price per GiB-month / hours per month, rounded to a hundredth of
    a cent."""
    return round(gib_hours(capacity_gib, seconds) * usd_per_gib_month / HOURS_PER_MONTH, 4)
