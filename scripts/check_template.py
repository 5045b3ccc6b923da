#!/usr/bin/env python3
"""Project rules for template.yaml that cfn-lint and `sam validate --lint`
do not check (both accept a misspelt runtime in Globals or an unknown S3
event name). Exits non-zero with one line per problem.

Rules:
* runtime, architecture, cargo-lambda build (each function's Binary is a
  binary of its crate), S3 event names, an on-failure destination for
  asynchronous triggers, the outputs the deploy and on-call read;
* observability: every function has a log group with a retention, and
  Errors and Throttles alarms; a stream-triggered function has an
  IteratorAge alarm; every on-failure queue has a depth alarm; every alarm
  notifies someone.

Checked in Rust instead, by tests that read the template with
tests/src/template.rs (and no reader of Rust source):
* least privilege: each function's policy statements against the IAM
  needs its code declares next to its SDK calls (lambda/src/iam.rs),
  both ways, in tests/src/declared_iam.rs;
* the local stack's copies of template settings (the stream mapping,
  asynchronous retries, reserved concurrency) and the read API's route,
  in tests/src/template_agreement.rs.

`check_template.py [template.yaml]`
"""
import pathlib
import sys

from cfnlint.decode import cfn_yaml

sys.dont_write_bytecode = True  # no __pycache__ in scripts/
import cfn_foreach  # noqa: E402  scripts/cfn_foreach.py: Fn::ForEach, as CloudFormation expands it

S3_EVENTS = {
    "s3:ObjectCreated:*", "s3:ObjectCreated:Put", "s3:ObjectCreated:Post",
    "s3:ObjectCreated:Copy", "s3:ObjectCreated:CompleteMultipartUpload",
    "s3:ObjectRemoved:*", "s3:ObjectRemoved:Delete",
    "s3:ObjectRemoved:DeleteMarkerCreated",
}
REQUIRED_OUTPUTS = {
    "MediaBucketName", "MediaTableName", "VideoTopicArn", "VideoRoleArn",
    "ApiUrl", "ExportBucket", "ExportPrefix", "AlarmTopicArn",
}


# ---- template helpers --------------------------------------------------------

def ref_target(v):
    """Logical id an intrinsic points at (Ref X, GetAtt X.Y), else None."""
    if isinstance(v, dict) and len(v) == 1:
        k, x = next(iter(v.items()))
        if k == "Ref" and isinstance(x, str):
            return x
        if k == "Fn::GetAtt":
            return (x if isinstance(x, list) else str(x).split("."))[0]
    return None


def sub_text(v):
    """A Sub/Join/Ref value as text with ${Name} placeholders, else None."""
    if isinstance(v, str):
        return v
    if isinstance(v, dict) and len(v) == 1:
        k, x = next(iter(v.items()))
        if k == "Ref":
            return "${%s}" % x
        if k == "Fn::Sub":
            if isinstance(x, str):
                return x
            text, variables = x[0], x[1]
            for name, val in variables.items():
                inner = sub_text(val)
                if inner is None:
                    return None
                text = text.replace("${%s}" % name, inner)
            return text
        if k == "Fn::Join" and x[0] == "":
            parts = [sub_text(p) for p in x[1]]
            return None if None in parts else "".join(parts)
    return None


def check_observability(name, props, resources, problems):
    names = {"${%s}" % name}
    if "FunctionName" in props and sub_text(props["FunctionName"]) is not None:
        names.add(sub_text(props["FunctionName"]))
    groups = [r for r in resources.values() if r.get("Type") == "AWS::Logs::LogGroup"
              and sub_text(r.get("Properties", {}).get("LogGroupName")) in {f"/aws/lambda/{n}" for n in names}]
    if not groups:
        problems.append(f"{name}: no AWS::Logs::LogGroup named /aws/lambda/<its name>"
                        f" (e.g. !Sub \"/aws/lambda/${{{name}}}\")")
    elif not all("RetentionInDays" in g.get("Properties", {}) for g in groups):
        problems.append(f"{name}: its log group has no RetentionInDays (logs would be kept forever)")

    def alarms(metric):
        out = []
        for r in resources.values():
            p = r.get("Properties", {})
            if r.get("Type") != "AWS::CloudWatch::Alarm" or p.get("Namespace") != "AWS/Lambda" \
                    or p.get("MetricName") != metric:
                continue
            for d in p.get("Dimensions", []):
                if d.get("Name") == "FunctionName" and sub_text(d.get("Value")) in names:
                    out.append(r)
        return out

    wanted = ["Errors", "Throttles"]
    if any(ev.get("Type") in ("DynamoDB", "Kinesis") for ev in props.get("Events", {}).values()):
        wanted.append("IteratorAge")
    for metric in wanted:
        if not alarms(metric):
            problems.append(f"{name}: no AWS/Lambda {metric} alarm with Dimensions FunctionName: !Ref {name}")


def queue_alarm_problems(functions, resources):
    problems, queues = [], set()
    for props in (f.get("Properties", {}) for f in functions.values()):
        dests = [props.get("EventInvokeConfig", {}).get("DestinationConfig", {}).get("OnFailure")]
        dests += [ev.get("Properties", {}).get("DestinationConfig", {}).get("OnFailure")
                  for ev in props.get("Events", {}).values()]
        for d in dests:
            target = ref_target(d.get("Destination")) if isinstance(d, dict) else None
            if target in resources and resources[target].get("Type") == "AWS::SQS::Queue":
                queues.add(target)
    for q in sorted(queues):
        ok = any(r.get("Type") == "AWS::CloudWatch::Alarm"
                 and r["Properties"].get("Namespace") == "AWS/SQS"
                 and r["Properties"].get("MetricName") == "ApproximateNumberOfMessagesVisible"
                 and any(ref_target(d.get("Value")) == q for d in r["Properties"].get("Dimensions", []))
                 for r in resources.values())
        if not ok:
            problems.append(f"{q}: on-failure queue without an ApproximateNumberOfMessagesVisible alarm")
    for alarm_name, r in resources.items():
        if r.get("Type") == "AWS::CloudWatch::Alarm" and not r.get("Properties", {}).get("AlarmActions"):
            problems.append(f"{alarm_name}: alarm without AlarmActions notifies no one")
    return problems


def main(argv) -> int:
    path = argv[0] if argv else "template.yaml"
    root = pathlib.Path(path).resolve().parent
    t = cfn_yaml.load(path)
    problems = []
    glob = t.get("Globals", {}).get("Function", {})
    # The per-function log groups and alarms come from Fn::ForEach loops:
    # the rules read the resources they expand to.
    try:
        resources = cfn_foreach.expand(t["Resources"])
    except cfn_foreach.ForEachError as e:
        print(f"template.yaml: {e}")
        return 1
    functions = {k: v for k, v in resources.items() if v["Type"] == "AWS::Serverless::Function"}
    if not functions:
        problems.append("no AWS::Serverless::Function in the template")
    for name, res in functions.items():
        props = res.get("Properties", {})
        runtime = props.get("Runtime", glob.get("Runtime"))
        if runtime != "provided.al2023":
            problems.append(f"{name}: Runtime {runtime!r}, expected provided.al2023")
        arch = props.get("Architectures", glob.get("Architectures"))
        if list(arch or []) != ["arm64"]:
            problems.append(f"{name}: Architectures {arch!r}, expected [arm64]")
        meta = res.get("Metadata", {})
        if meta.get("BuildMethod") != "rust-cargolambda":
            problems.append(f"{name}: Metadata.BuildMethod must be rust-cargolambda")
        binary = meta.get("BuildProperties", {}).get("Binary")
        crate = root / str(props.get("CodeUri", ""))
        if not binary or not (crate / "src" / "bin" / f"{binary}.rs").exists():
            problems.append(f"{name}: Binary {binary!r} is not a binary of {crate}")
        for ev_name, ev in props.get("Events", {}).items():
            if ev.get("Type") == "S3":
                events = ev["Properties"]["Events"]
                for e in events if isinstance(events, list) else [events]:
                    if e not in S3_EVENTS:
                        problems.append(f"{name}.{ev_name}: unknown S3 event {e!r}")
        if not any(ev.get("Type") in ("HttpApi", "Api") for ev in props.get("Events", {}).values()):
            has_dest = "EventInvokeConfig" in props or all(
                "DestinationConfig" in ev.get("Properties", {}) or ev.get("Type") == "Schedule"
                for ev in props.get("Events", {}).values()
            )
            if not has_dest:
                problems.append(f"{name}: asynchronous triggers need an on-failure destination")
        check_observability(name, props, resources, problems)
    problems += queue_alarm_problems(functions, resources)
    missing = REQUIRED_OUTPUTS - set(t.get("Outputs", {}))
    if missing:
        problems.append(f"missing Outputs: {sorted(missing)}")
    for p in problems:
        print(f"template.yaml: {p}")
    print(f"template rules: {len(functions)} functions checked, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
