"""What the gate tells people and machines: a short table, SARIF, JUnit XML and a JSON summary.

SARIF is what GitHub code scanning ingests (waived results carry an external
suppression with the waiver's reason); JUnit XML is what test reporters show;
summary.json is what the plan session reads (pipeline/summary.py's PolicyResult).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from policies.catalogue import Policy
from policies.scan import Finding, Outcome, Target
from policies.waivers import Verdict, Waiver

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_LEVEL = {"CRITICAL": "error", "HIGH": "error", "MEDIUM": "warning", "LOW": "note"}


@dataclass(frozen=True)
class Missing:
    """Something the gate was asked or expected to scan that was not there."""

    label: str
    reason: str
    fails: bool  # a missing stack fails the gate; a missing Dockerfile is reported, never passed


def _row_status(outcome: Outcome, unwaived: int) -> str:
    if outcome.error:
        return "ERROR"
    return "FAIL" if unwaived else "PASS"


def table(outcomes: Sequence[Outcome], missing: Sequence[Missing], verdict: Verdict) -> str:
    """One line per scanned target and per thing not scanned."""
    waived_ids = {id(f) for f, _ in verdict.waived}
    rows = [("target", "framework", "scope", "passed", "failed", "waived", "status", "time")]
    for outcome in outcomes:
        failed = outcome.failed
        waived = sum(1 for f in failed if id(f) in waived_ids)
        t = outcome.target
        rows.append(
            (
                t.label,
                t.framework,
                t.scope,
                str(len(outcome.passed)),
                str(len(failed) - waived),
                str(waived),
                _row_status(outcome, len(failed) - waived),
                f"{outcome.seconds:.1f}s",
            )
        )
    for item in missing:
        rows.append((item.label, "-", "-", "-", "-", "-", "MISSING" if item.fails else "NOT SCANNED", "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows
    )


def describe(finding: Finding, policies: dict[str, Policy]) -> str:
    """One line a reviewer can act on: id, severity, resource, where, what."""
    policy = policies.get(finding.check_id)
    name = policy.reason if policy else finding.check_name
    severity = policy.severity if policy else (finding.severity or "")
    details = f" ({'; '.join(finding.details)})" if finding.details else ""
    skipped = " [inline suppression ignored: use policies/waivers.yaml]" if finding.inline_skip else ""
    sev = f" [{severity}]" if severity else ""
    return f"{finding.check_id}{sev} {finding.resource} in {finding.target.label}: {name}{details}{skipped}"


def failures(
    outcomes: Sequence[Outcome], missing: Sequence[Missing], verdict: Verdict, policies: dict[str, Policy]
) -> list[str]:
    lines = [describe(f, policies) for f in verdict.unwaived]
    lines += [f"scan error in {o.target.label}: {o.error}" for o in outcomes if o.error]
    lines += [f"missing: {m.label}: {m.reason}" for m in missing if m.fails]
    lines += [f"expired {w.label()}: expired {w.expires}" for w in verdict.expired]
    lines += [f"stale {w.label()}: matches no failed check any more; delete it" for w in verdict.stale]
    return lines


def sarif(outcomes: Sequence[Outcome], verdict: Verdict, policies: dict[str, Policy]) -> dict:
    waivers: dict[int, Waiver] = {id(f): w for f, w in verdict.waived}
    rules: dict[str, dict] = {}
    results = []
    for outcome in outcomes:
        for finding in outcome.failed:
            policy = policies.get(finding.check_id)
            severity = policy.severity if policy else (finding.severity or "HIGH")
            rules.setdefault(
                finding.check_id,
                {
                    "id": finding.check_id,
                    "shortDescription": {"text": policy.reason if policy else finding.check_name},
                    "properties": {"severity": severity},
                },
            )
            result = {
                "ruleId": finding.check_id,
                "level": SARIF_LEVEL.get(severity.upper(), "error"),
                "message": {"text": describe(finding, policies)},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {"uri": _uri(finding)},
                            "region": {
                                "startLine": max(finding.lines[0], 1),
                                "endLine": max(finding.lines[1], 1),
                            },
                        }
                    }
                ],
                "properties": {
                    "resource": finding.resource,
                    "scope": finding.target.scope,
                    "framework": finding.target.framework,
                },
            }
            waiver = waivers.get(id(finding))
            if waiver is not None:
                result["suppressions"] = [
                    {
                        "kind": "external",
                        "status": "accepted",
                        "justification": f"{waiver.reason} (expires {waiver.expires})",
                    }
                ]
            results.append(result)
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "llm-gateway policy gate (checkov, hadolint)",
                        "informationUri": "https://www.checkov.io/",
                        "rules": list(rules.values()),
                    }
                },
                "results": results,
            }
        ],
    }


def _uri(finding: Finding) -> str:
    path = str(finding.target.path)
    root = str(Path(__file__).resolve().parent.parent) + "/"
    return path.removeprefix(root) if path.startswith(root) else path


def junit(
    outcomes: Sequence[Outcome], missing: Sequence[Missing], verdict: Verdict, policies: dict[str, Policy]
) -> ET.ElementTree:
    waivers = {id(f): w for f, w in verdict.waived}
    suites = ET.Element("testsuites", name="policy gate")
    for outcome in outcomes:
        target: Target = outcome.target
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=f"{target.label} [{target.framework}]",
            tests=str(len(outcome.findings)),
            time=f"{outcome.seconds:.2f}",
        )
        if outcome.error:
            case = ET.SubElement(suite, "testcase", classname=target.label, name="scan")
            ET.SubElement(case, "error", message=outcome.error)
        for finding in outcome.findings:
            case = ET.SubElement(
                suite, "testcase", classname=target.label, name=f"{finding.check_id} {finding.resource}"
            )
            if finding.passed:
                continue
            waiver = waivers.get(id(finding))
            if waiver is not None:
                ET.SubElement(case, "skipped", message=f"waived until {waiver.expires}: {waiver.reason}")
            else:
                ET.SubElement(case, "failure", message=describe(finding, policies))
    if missing:
        suite = ET.SubElement(suites, "testsuite", name="not scanned", tests=str(len(missing)))
        for item in missing:
            case = ET.SubElement(suite, "testcase", classname="not scanned", name=item.label)
            ET.SubElement(case, "failure" if item.fails else "skipped", message=item.reason)
    return ET.ElementTree(suites)


def write(
    report_dir: Path,
    outcomes: Sequence[Outcome],
    missing: Sequence[Missing],
    verdict: Verdict,
    policies: dict[str, Policy],
    passed: bool,
    seconds: float,
) -> list[Path]:
    """Write policy.sarif, policy.junit.xml and summary.json; returns their paths."""
    report_dir.mkdir(parents=True, exist_ok=True)
    sarif_path = report_dir / "policy.sarif"
    sarif_path.write_text(json.dumps(sarif(outcomes, verdict, policies), indent=1), encoding="utf-8")
    junit_path = report_dir / "policy.junit.xml"
    tree = junit(outcomes, missing, verdict, policies)
    ET.indent(tree)
    tree.write(junit_path, encoding="utf-8", xml_declaration=True)
    summary_path = report_dir / "summary.json"
    summary = {
        "passed": passed,
        "seconds": round(seconds, 1),
        "failures": failures(outcomes, missing, verdict, policies),
        "waived": [describe(f, policies) + f" -- waived until {w.expires}" for f, w in verdict.waived],
        "not_scanned": [f"{m.label}: {m.reason}" for m in missing],
        "targets": [
            {
                "label": o.target.label,
                "framework": o.target.framework,
                "scope": o.target.scope,
                "passed": len(o.passed),
                "failed": len(o.failed),
                "error": o.error,
                "notes": o.notes,
            }
            for o in outcomes
        ],
    }
    summary_path.write_text(json.dumps(summary, indent=1), encoding="utf-8")
    return [sarif_path, junit_path, summary_path]
