#!/usr/bin/env python3
"""Project rules for template.yaml that cfn-lint and `sam validate --lint`
do not check (both accept a misspelt runtime in Globals or an unknown S3
event name). Exits non-zero with one line per problem."""
import pathlib
import re
import sys

from cfnlint.decode import cfn_yaml

S3_EVENTS = {
    "s3:ObjectCreated:*", "s3:ObjectCreated:Put", "s3:ObjectCreated:Post",
    "s3:ObjectCreated:Copy", "s3:ObjectCreated:CompleteMultipartUpload",
    "s3:ObjectRemoved:*", "s3:ObjectRemoved:Delete",
    "s3:ObjectRemoved:DeleteMarkerCreated",
}
REQUIRED_OUTPUTS = {
    "MediaBucketName", "MediaTableName", "VideoTopicArn", "VideoRoleArn",
    "ApiUrl", "ExportBucket", "ExportPrefix",
}


def main(path: str) -> int:
    root = pathlib.Path(path).resolve().parent
    t = cfn_yaml.load(path)
    problems = []
    glob = t.get("Globals", {}).get("Function", {})
    functions = {k: v for k, v in t["Resources"].items() if v["Type"] == "AWS::Serverless::Function"}
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
    missing = REQUIRED_OUTPUTS - set(t.get("Outputs", {}))
    if missing:
        problems.append(f"missing Outputs: {sorted(missing)}")
    for p in problems:
        print(f"template.yaml: {p}")
    print(f"template rules: {len(functions)} functions checked, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "template.yaml"))
