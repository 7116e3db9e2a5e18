"""The file system's price: the deployment type the workflow creates, the table and its override, the arithmetic,
and the stack config key that overrides it (checked as every parameter is)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from batch_lustre import pricing
from batch_lustre.cli.graph import placeholder_refs
from batch_lustre.program.asl import build_definition
from batch_lustre.program.parameters import BY_NAME, MODES, ParameterError, validate_value

PRICE = BY_NAME["lustrePricePerGibMonthUsd"]


@pytest.mark.parametrize("mode", MODES)
def test_the_priced_deployment_type_is_the_one_the_workflow_creates(mode):
    create = build_definition(placeholder_refs(mode))["States"]["CreateLustreFileSystem"]
    assert create["Parameters"]["LustreConfiguration"]["DeploymentType"] == pricing.DEPLOYMENT_TYPE


def test_the_price_comes_from_stack_config_then_the_regions_figure_then_us_east_1s():
    assert pricing.price("us-east-1") == pricing.Price(0.140, "table (us-east-1)")
    assert pricing.price(None, "") == pricing.Price(0.140, "table (us-east-1)")
    found = pricing.price("eu-west-1")
    assert found.usd_per_gib_month == 0.140 and found.assumed_region and "eu-west-1" in found.source
    assert pricing.price("eu-west-1", "0.2") == pricing.Price(0.2, "stack config lustrePricePerGibMonthUsd")


def test_an_hour_of_2400_gib_costs_2400_gib_hours_at_the_monthly_price_over_730_hours():
    assert pricing.gib_hours(2400, 3600) == 2400
    assert pricing.fs_cost_usd(2400, 3600, 0.140) == round(2400 * 0.140 / 730, 4) == 0.4603
    assert pricing.fs_cost_usd(1200, 0, 0.140) == 0


@given(
    capacity=st.sampled_from([1200, 2400, 4800, 24000]),
    seconds=st.floats(0, 30 * 86400),
    price=st.floats(0.001, 100),
)
def test_the_cost_grows_with_capacity_time_and_price(capacity, seconds, price):
    cost = pricing.fs_cost_usd(capacity, seconds, price)
    assert cost >= 0
    assert pricing.fs_cost_usd(capacity * 2, seconds, price) >= cost
    assert cost == pytest.approx(capacity * seconds / 3600 * price / 730, abs=1e-4)


@pytest.mark.parametrize("value", ["", "0.140", "0.001", "100", "2"])
def test_the_stack_config_price_accepts_empty_or_a_decimal_from_0_001_to_100(value):
    assert validate_value(PRICE, value) == value


@pytest.mark.parametrize("value", ["0", "0.0009", "100.5", "-1", "1e3", "$0.14", "0,14", "abc", ".5"])
def test_the_stack_config_price_refuses_anything_else_in_one_line_naming_key_and_value(value):
    with pytest.raises(ParameterError) as refused:
        validate_value(PRICE, value)
    message = str(refused.value)
    assert "lustrePricePerGibMonthUsd" in message and "\n" not in message
    assert "accepted empty" in message


@given(st.text(max_size=12))
def test_any_text_the_price_key_accepts_prices_a_run(text):
    try:
        value = validate_value(PRICE, text)
    except ParameterError:
        return
    found = pricing.price("us-east-1", value)
    assert 0.001 <= found.usd_per_gib_month <= 100
