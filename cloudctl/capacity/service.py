"""The edge of ``cloudctl capacity``: gathers capacity.yaml, the address plan, the
migration plan and journal, and (when asked) the cloud's usage, then calls the pure
forecast."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cloudctl.capacity import load
from cloudctl.capacity.live import CloudUsage, read_usage
from cloudctl.capacity.model import CapacityInputs, Forecast, forecast
from cloudctl.core.center import Center
from cloudctl.core.errors import InputError
from cloudctl.core.i18n import _

USAGE_MODES = ("auto", "cloud", "file")


@dataclass
class Gathered:
    inputs: CapacityInputs
    cloud: CloudUsage | None


def cloud_configured(cloud: str | None = None, config_file: str | None = None) -> bool:
    return bool(cloud or config_file or os.environ.get("OS_CLOUD"))


def gather(
    center: Center,
    *,
    file: str | Path | None = None,
    plan: str | None = None,
    usage: str = "auto",
    cloud: str | None = None,
    config_file: str | None = None,
    lang: str = "zh",
) -> Gathered:
    """Every input of the forecast.

    usage ``file``: capacity.yaml's measured ``current_usage``. ``cloud``: the cloud's own
    figures (servers, volumes, floating IPs). ``auto``: the cloud's when one is configured
    *and* it has compute nodes; a cloud without any (the lab's Nova runs no compute) has
    no real workload to measure, so the file's figures are used and a note says so.
    """
    if usage not in USAGE_MODES:
        raise InputError(
            _("--usage: {usage!r}; expected one of {USAGE_MODES}").format(
                usage=usage, USAGE_MODES=", ".join(USAGE_MODES)
            )
        )
    cfg = load.load_config(load.config_path(center, file))
    zones, public = load.address_inputs(center)
    mplan, done = load.migration_inputs(center, plan)
    demands = load.demands(mplan, done, cfg)
    notes: list[str] = []
    zh = lang != "en"
    live: CloudUsage | None = None
    if usage == "cloud" or (usage == "auto" and cloud_configured(cloud, config_file)):
        live = read_usage(cloud, config_file)
    source = "file"
    figures = dict(cfg.usage)
    if live is not None:
        if usage == "cloud" or live.hypervisors > 0:
            source = "cloud"
            figures = live.totals()
        else:
            notes.append(
                "云平台的 Nova 没有计算节点（实验环境）：硬件与在用量取自 capacity.yaml"
                f"（{cfg.usage_as_of or cfg.as_of} 实测）"
                if zh
                else "the cloud's Nova has no compute nodes (a lab): hardware and usage come "
                f"from capacity.yaml (measured {cfg.usage_as_of or cfg.as_of})"
            )
        if live.hypervisors == 0 and usage == "cloud":
            notes.append(
                "云平台没有计算节点：硬件取自 capacity.yaml"
                if zh
                else "the cloud has no compute nodes: hardware comes from capacity.yaml"
            )
    if done:
        notes.append(
            f"已迁移完成、不再计入需求的系统：{', '.join(sorted(done))}"
            if zh
            else f"systems already moved (not counted as demand): {', '.join(sorted(done))}"
        )
    missing = [d.id for d in demands if d.month is None]
    if missing:
        notes.append(
            f"未计入（无批次时间或无 resources）：{', '.join(missing)}"
            if zh
            else f"not counted (no wave month or no resources): {', '.join(missing)}"
        )
    inputs = CapacityInputs(
        config=cfg,
        demands=demands,
        zones=zones,
        public=public,
        usage=figures,
        usage_source=source,
        notes=notes,
    )
    return Gathered(inputs=inputs, cloud=live)


def run(g: Gathered, horizon: int, headroom_pct: float | None = None) -> Forecast:
    if not 1 <= horizon <= 240:
        raise InputError(_("--horizon: {horizon} months; expected 1..240").format(horizon=horizon))
    if headroom_pct is not None and not 0 <= headroom_pct < 100:
        raise InputError(
            _("--headroom: {headroom_pct}%; expected 0..99").format(headroom_pct=headroom_pct)
        )
    return forecast(g.inputs, horizon, None if headroom_pct is None else headroom_pct / 100)
