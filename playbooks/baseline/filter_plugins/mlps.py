"""Filter used by check.yml: turn one registered module result into an evidence record."""


def mlps_host_record(res):
    if not isinstance(res, dict):
        return {"status": "failed", "error": "no result"}
    if res.get("unreachable"):
        return {"status": "unreachable", "error": str(res.get("msg", ""))[:500]}
    if res.get("failed") or "evidence" not in res:
        return {
            "status": "failed",
            "error": str(res.get("msg") or res.get("module_stderr") or "")[:500],
        }
    return {"status": "ok", "evidence": res["evidence"]}


class FilterModule:
    def filters(self):
        return {"mlps_host_record": mlps_host_record}
