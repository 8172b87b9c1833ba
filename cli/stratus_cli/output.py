"""--output table|json|yaml: the data is the same, the table is for people."""
from __future__ import annotations

import enum
import json
import typing as t

import yaml


class Format(str, enum.Enum):
    table = "table"
    json = "json"
    yaml = "yaml"


def emit(data: t.Any, fmt: Format, table: t.Callable[[t.Any], str]) -> None:
    if fmt == Format.json:
        print(json.dumps(data, indent=2, default=str))
    elif fmt == Format.yaml:
        print(yaml.safe_dump(json.loads(json.dumps(data, default=str)), sort_keys=False, default_flow_style=False),
              end="")
    else:
        text = table(data)
        if text:
            print(text)


def grid(header: list[str], rows: list[list[t.Any]]) -> str:
    """Left-aligned columns, two spaces apart; None shows as '-'."""
    cells = [[("-" if c is None or c == "" else str(c)) for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]
    return "\n".join(lines)


def usage_bar(used: float, total: float, width: int = 20) -> str:
    """[#######.............]  used/total: how much of a host's capacity the claims take."""
    frac = 0.0 if total <= 0 else min(max(used / total, 0.0), 1.0)
    filled = int(round(frac * width))
    if used > 0 and filled == 0:
        filled = 1
    return "[%s%s] %s/%s" % ("#" * filled, "." * (width - filled), _num(used), _num(total))


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else "%.1f" % value


def first_ip(server: t.Mapping[str, t.Any]) -> t.Optional[str]:
    for addrs in (server.get("addresses") or {}).values():
        for addr in addrs or []:
            if addr.get("addr"):
                return str(addr["addr"])
    return None


def flavor_name(server: t.Mapping[str, t.Any]) -> t.Optional[str]:
    flavor = server.get("flavor")
    return flavor.get("name") if isinstance(flavor, dict) else flavor


def servers_table(data: t.Mapping[str, t.Any]) -> str:
    servers = data.get("servers") or []
    rows = [[s.get("name"), s.get("id"), s.get("host"), s.get("status") or str(s.get("vm_state") or "").upper(),
             s.get("task_state"), first_ip(s), flavor_name(s)] for s in servers]
    out = grid(["NAME", "ID", "HOST", "STATUS", "TASK", "IP", "FLAVOR"], rows) if servers else "no servers"
    if data.get("not_found"):
        out += "\nnot found (nothing to delete): %s" % ", ".join(data["not_found"])
    if data.get("check"):
        out += "\n(check mode: nothing was written or built)"
    return out


def _joined(item: t.Mapping[str, t.Any], keys: tuple[str, ...]) -> str:
    return " ".join(str(item.get(k) or "") for k in keys).strip()


def server_detail(data: t.Mapping[str, t.Any]) -> str:
    s = data.get("server") or {}
    fields = [("name", s.get("name")), ("id", s.get("id")), ("status", s.get("status")),
              ("vm_state", s.get("vm_state")), ("task_state", s.get("task_state")),
              ("power_state", s.get("power_state")), ("host", s.get("host")),
              ("availability_zone", s.get("availability_zone")), ("flavor", flavor_name(s)),
              ("image", s.get("image")), ("project_id", s.get("project_id")), ("user_id", s.get("user_id")),
              ("addresses", "; ".join("%s=%s" % (net, ",".join(a.get("addr", "") for a in addrs))
                                      for net, addrs in (s.get("addresses") or {}).items())),
              ("metadata", ", ".join("%s=%s" % kv for kv in sorted((s.get("metadata") or {}).items()))),
              ("tags", ", ".join(s.get("tags") or [])), ("description", s.get("description"))]
    fault = s.get("fault")
    if fault:
        fields.append(("fault", "%s: %s" % (fault.get("code"), fault.get("message"))
                       if isinstance(fault, dict) else fault))
    moving = s.get("migration")
    if moving:
        fields.append(("migration", "%s %s: %s -> %s" % (moving.get("type"), moving.get("status"), moving.get("source"),
                                                         moving.get("dest"))))
    last = s.get("last_action")
    if last:
        when = last.get("finish_time") or last.get("start_time")
        fields.append(("last_action", "%s %s (%s)" % (last.get("action"), last.get("result") or "under way", when)))
    for dev in s.get("block_devices") or []:
        fields.append(("block_device", _joined(dev, ("device_name", "kind", "volume_id"))))
    for action in s.get("actions") or []:
        fields.append(("action", _joined(action, ("start_time", "action", "message"))))
    width = max(len(k) for k, _v in fields)
    return "\n".join("%s  %s" % (k.ljust(width), "-" if v in (None, "") else v) for k, v in fields)


def explain_table(data: t.Mapping[str, t.Any]) -> str:
    hosts = data.get("hosts") or {}
    if not hosts:
        return "the scheduler saw no hypervisors"

    def order(item: tuple[str, t.Mapping[str, t.Any]]) -> tuple[int, float, str]:
        host, verdict = item
        return (1 if verdict.get("rejected_by") else 0, -float(verdict.get("total", verdict.get("weight")) or 0), host)

    rows = []
    for host, verdict in sorted(hosts.items(), key=order):
        weights = verdict.get("weights") or {}
        rows.append([host, _verdict(verdict),
                     " ".join("%s=%s" % (k.replace("Weigher", ""), _fmt(v))
                              for k, v in sorted(weights.items()) if v) or None,
                     None if verdict.get("rejected_by") else _fmt(verdict.get("total", verdict.get("weight")))])
    out = grid(["HOST", "FILTERS", "WEIGHTS (non-zero)", "TOTAL"], rows)
    if data.get("scheduled"):
        out += "\n%s would be scheduled on %s" % (data.get("name"), ", ".join(data.get("placements") or []) or "-")
    elif data.get("error"):
        out += "\n%s would not be scheduled: %s" % (data.get("name"), data["error"].get("code"))
        if not any(v.get("rejected_by") for v in hosts.values()) and (data.get("instances") or 1) > 1:
            out += " (every host passes the filters for one instance, but the %d instances do not fit " \
                   "all together)" % data["instances"]
    return out


def _verdict(verdict: t.Mapping[str, t.Any]) -> str:
    """`passed`, or the filter that left the host out and, where it says, why."""
    if not verdict.get("rejected_by"):
        return "passed"
    reason = verdict.get("reason")
    return "rejected by %s%s" % (verdict["rejected_by"], ": %s" % reason if reason else "")


def _fmt(value: t.Any) -> str:
    if isinstance(value, float):
        return ("%.3f" % value).rstrip("0").rstrip(".") or "0"
    return "-" if value is None else str(value)


def hypervisors_table(data: t.Mapping[str, t.Any]) -> str:
    hvs = data.get("hypervisors") or []
    if not hvs:
        return "no hypervisors in the inventory (group hypervisors)"
    rows = []
    for hv in hvs:
        cap = hv.get("capacity") or {}
        reason = (hv.get("service") or {}).get("disabled_reason")
        status = "%s (%s)" % (hv.get("status"), reason) if reason else hv.get("status")
        rows.append([hv.get("hypervisor_hostname"), hv.get("availability_zone"), status,
                     usage_bar(hv.get("vcpus_used", 0), cap.get("vcpus", 0)),
                     usage_bar(hv.get("memory_mb_used", 0), cap.get("memory_mb", 0)),
                     usage_bar(hv.get("local_gb_used", 0), cap.get("disk_gb", 0)), hv.get("running_vms")])
    return grid(["HOST", "ZONE", "STATUS", "VCPUS", "RAM (MiB)", "DISK (GiB)", "SERVERS"], rows) + \
        "\n(used / (total - reserved) * allocation ratio)"


def service_line(data: t.Mapping[str, t.Any]) -> str:
    svc = data.get("service") or {}
    return "%s: %s%s, %s" % (svc.get("host"), svc.get("status"),
                             " (%s)" % svc["disabled_reason"] if svc.get("disabled_reason") else "",
                             "forced down" if svc.get("forced_down") else "up")


def drain_table(data: t.Mapping[str, t.Any]) -> str:
    rows = [[m.get("server"), "moved (%s)" % m.get("how"), m.get("to"), None] for m in data.get("moved") or []]
    rows += [[n.get("server"), "left", data.get("host"), n.get("why")] for n in data.get("not_moved") or []]
    head = "%s: drained (disabled)" % data.get("host")
    return head + ("\n" + grid(["SERVER", "RESULT", "HOST", "WHY"], rows) if rows else "; no server was on it")


def quota_table(data: t.Mapping[str, t.Any]) -> str:
    qs = data.get("quota_set") or {}
    rows = [[r, "unlimited" if v.get("limit") == -1 else v.get("limit"), v.get("in_use"), v.get("reserved")]
            for r, v in qs.items()]
    return "project %s\n" % data.get("project_id") + grid(["RESOURCE", "LIMIT", "IN USE", "RESERVED"], rows)


def nodes_table(data: t.Mapping[str, t.Any]) -> str:
    nodes = data.get("nodes") or []
    if not nodes:
        return "no bare-metal nodes (inventory group baremetal_nodes)"
    rows = [[n.get("name"), n.get("driver"), n.get("provision_state"), n.get("power_state"),
             ("yes: %s" % n.get("maintenance_reason")) if n.get("maintenance") else "no", n.get("instance_uuid"),
             n.get("last_error") if n.get("in_inventory", True) else "not in the inventory any more"] for n in nodes]
    return grid(["NODE", "DRIVER", "PROVISION STATE", "POWER", "MAINTENANCE", "INSTANCE", "LAST ERROR"], rows)


def _maintenance(node: t.Mapping[str, t.Any]) -> str:
    if not node.get("maintenance"):
        return "no"
    return "yes (%s): %s" % (", ".join(node.get("maintenance_set_by") or []), node.get("maintenance_reason"))


def node_detail(data: t.Mapping[str, t.Any]) -> str:
    n = data.get("node") or {}
    props = n.get("properties") or {}
    inspected = n.get("inspected") or {}
    fields = [("name", n.get("name")), ("driver", n.get("driver")), ("bmc_address", n.get("bmc_address")),
              ("provision_state", n.get("provision_state")),
              ("target_provision_state", n.get("target_provision_state")), ("power_state", n.get("power_state")),
              ("maintenance", _maintenance(n)),
              ("last_error", n.get("last_error")), ("instance_uuid", n.get("instance_uuid")),
              ("resource_class", n.get("resource_class")),
              ("properties", ", ".join("%s=%s" % kv for kv in props.items())),
              ("nics", ", ".join("%s on %s" % (nic.get("mac"), nic.get("network")) for nic in n.get("nics") or [])),
              ("in_inventory", "yes" if n.get("in_inventory", True) else "no (the store still has its row)")]
    if inspected:
        differences = inspected.get("differences") or []
        fields.append(("inspected", "%s: %s" % (inspected.get("inspected_at"), "; ".join(
            "%s %s (inventory %s)" % (d.get("property"), d.get("bmc"), d.get("inventory")) for d in differences)
            or "matches the inventory")))
    for move in data.get("moves") or []:
        fields.append(("move", "%s: %s" % (move.get("action"), move.get("message"))))
    for event in n.get("events") or []:
        fields.append(("event", _joined(event, ("time", "event", "from_state", "to_state", "result", "message"))))
    width = max(len(k) for k, _v in fields)
    out = "\n".join("%s  %s" % (k.ljust(width), "-" if v in (None, "") else v) for k, v in fields)
    if data.get("check"):
        out += "\n(check mode: nothing was recorded, no BMC was contacted)"
    return out
