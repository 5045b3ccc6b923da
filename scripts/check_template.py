#!/usr/bin/env python3
"""Project rules for template.yaml that cfn-lint and `sam validate --lint`
do not check (both accept a misspelt runtime in Globals or an unknown S3
event name). Exits non-zero with one line per problem.

Rules:
* runtime, architecture, cargo-lambda build, S3 event names, an on-failure
  destination for asynchronous triggers, the outputs the deploy and
  on-call read;
* least privilege, statically: for every function, the AWS SDK operations
  its Rust binary can reach (see "Reading the Lambda crate" below) map to
  IAM actions, and the function's policy statements must grant exactly
  those, plus what its own configuration needs (an on-failure destination
  SAM does not add a policy for). A missing action is AccessDenied in AWS;
  an extra one is privilege nothing uses;
* observability: every function has a log group with a retention, and
  Errors and Throttles alarms; a stream-triggered function has an
  IteratorAge alarm; every on-failure queue has a depth alarm; every alarm
  notifies someone.

`check_template.py [--explain] [template.yaml]`: --explain also prints, per
function, each SDK operation found, its IAM actions and the call path that
reaches it.
"""
import json
import pathlib
import re
import sys
from collections import deque

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

# ---- SDK operations -> IAM actions ------------------------------------------
# Keyed by (service, fluent method): the service is the `aws_sdk_<service>`
# crate of the client the method is called on. The actions are everything
# the call needs from the caller's role, dependent actions included.
# A client method not listed here is reported, so a new call cannot slip by.
_REKOGNITION_S3 = "the object is passed as an S3Object, which Rekognition reads with the caller's permissions"
SDK_ACTIONS = {
    ("dynamodb", "get_item"): (["dynamodb:GetItem"], ""),
    ("dynamodb", "put_item"): (["dynamodb:PutItem"], ""),
    ("dynamodb", "update_item"): (["dynamodb:UpdateItem"], ""),
    ("dynamodb", "delete_item"): (["dynamodb:DeleteItem"], ""),
    ("dynamodb", "query"): (["dynamodb:Query"], ""),
    ("dynamodb", "scan"): (["dynamodb:Scan"], ""),
    ("dynamodb", "batch_get_item"): (["dynamodb:BatchGetItem"], ""),
    ("dynamodb", "batch_write_item"): (["dynamodb:BatchWriteItem"], ""),
    ("dynamodb", "describe_table"): (["dynamodb:DescribeTable"], ""),
    ("dynamodb", "export_table_to_point_in_time"): (["dynamodb:ExportTableToPointInTime"], ""),
    ("dynamodb", "describe_export"): (["dynamodb:DescribeExport"], ""),
    ("dynamodb", "describe_stream"): (["dynamodb:DescribeStream"], ""),
    ("dynamodbstreams", "describe_stream"): (["dynamodb:DescribeStream"], ""),
    ("dynamodbstreams", "get_records"): (["dynamodb:GetRecords"], ""),
    ("dynamodbstreams", "get_shard_iterator"): (["dynamodb:GetShardIterator"], ""),
    ("dynamodbstreams", "list_streams"): (["dynamodb:ListStreams"], ""),
    ("s3", "get_object"): (["s3:GetObject"], ""),
    ("s3", "head_object"): (["s3:GetObject"], "HeadObject is authorised as s3:GetObject"),
    ("s3", "put_object"): (["s3:PutObject"], ""),
    ("s3", "copy_object"): (["s3:GetObject", "s3:PutObject"], ""),
    ("s3", "create_multipart_upload"): (["s3:PutObject"], ""),
    ("s3", "upload_part"): (["s3:PutObject"], ""),
    ("s3", "complete_multipart_upload"): (["s3:PutObject"], ""),
    ("s3", "abort_multipart_upload"): (["s3:AbortMultipartUpload"], ""),
    ("s3", "delete_object"): (["s3:DeleteObject"], ""),
    ("s3", "delete_objects"): (["s3:DeleteObject"], "DeleteObjects is authorised per key as s3:DeleteObject"),
    ("s3", "list_objects_v2"): (["s3:ListBucket"], "ListObjectsV2 is authorised as s3:ListBucket"),
    ("s3", "list_objects"): (["s3:ListBucket"], "ListObjects is authorised as s3:ListBucket"),
    ("s3", "head_bucket"): (["s3:ListBucket"], "HeadBucket is authorised as s3:ListBucket"),
    ("s3", "get_object_tagging"): (["s3:GetObjectTagging"], ""),
    ("s3", "put_object_tagging"): (["s3:PutObjectTagging"], ""),
    ("rekognition", "detect_labels"): (["rekognition:DetectLabels", "s3:GetObject"], _REKOGNITION_S3),
    ("rekognition", "start_label_detection"): (
        ["rekognition:StartLabelDetection", "s3:GetObject", "iam:PassRole"],
        _REKOGNITION_S3 + "; NotificationChannel.RoleArn is passed to Rekognition (iam:PassRole)"),
    ("rekognition", "get_label_detection"): (["rekognition:GetLabelDetection"], ""),
    ("sqs", "send_message"): (["sqs:SendMessage"], ""),
    ("sqs", "send_message_batch"): (["sqs:SendMessage"], ""),
    ("sqs", "receive_message"): (["sqs:ReceiveMessage"], ""),
    ("sqs", "delete_message"): (["sqs:DeleteMessage"], ""),
    ("sqs", "delete_message_batch"): (["sqs:DeleteMessage"], ""),
    ("sqs", "change_message_visibility"): (["sqs:ChangeMessageVisibility"], ""),
    ("sqs", "get_queue_attributes"): (["sqs:GetQueueAttributes"], ""),
    ("sqs", "get_queue_url"): (["sqs:GetQueueUrl"], ""),
    ("sns", "publish"): (["sns:Publish"], ""),
    ("sns", "publish_batch"): (["sns:Publish"], ""),
    ("cloudwatch", "put_metric_data"): (["cloudwatch:PutMetricData"], ""),
    ("lambda", "invoke"): (["lambda:InvokeFunction"], ""),
    ("sts", "get_caller_identity"): ([], "needs no permission"),
}
# Client methods that are not operations.
SDK_CLIENT_METHODS = {"clone", "config", "from_conf", "new"}

# Platform actions: what Lambda does with the function's role because of
# the function's configuration, not its code.
DESTINATION_ACTIONS = {
    "SQS": "sqs:SendMessage", "SNS": "sns:Publish",
    "Lambda": "lambda:InvokeFunction", "EventBridge": "events:PutEvents",
}
RESOURCE_KINDS = {
    "AWS::SQS::Queue": "SQS", "AWS::SNS::Topic": "SNS",
    "AWS::Serverless::Function": "Lambda", "AWS::Lambda::Function": "Lambda",
    "AWS::Events::EventBus": "EventBridge",
}
STREAM_READ_ACTIONS = {
    "DynamoDB": ["dynamodb:DescribeStream", "dynamodb:GetRecords",
                 "dynamodb:GetShardIterator", "dynamodb:ListStreams"],
    "Kinesis": ["kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetRecords",
                "kinesis:GetShardIterator", "kinesis:ListShards", "kinesis:ListStreams",
                "kinesis:SubscribeToShard"],
    "SQS": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
            "sqs:ChangeMessageVisibility"],
}
BASIC_ACTIONS = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]
TRACING_ACTIONS = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]


# ---- Reading the Lambda crate ------------------------------------------------
# A small, purpose-built reader of the crate's Rust, enough to tell which
# SDK operations each binary can reach:
# * items (fns, impls, traits, structs, enums, uses) from comment- and
#   string-stripped source, `#[cfg(test)]` items removed;
# * a call graph from `main` of src/bin/<binary>.rs: paths (`f(..)`,
#   `Type::f(..)`, `super::m::f`, also `f` passed as a value) resolved
#   through `use`; method calls resolved by the receiver's type, which is
#   read from `self`, parameters, `let` bindings and struct fields; a
#   receiver bound by a crate trait (`S: MediaStore`) reaches every impl of
#   the method; a crate type that implements a trait of another crate
#   (`ObjectStore`, `Table`: called from the domain crate) has all of those
#   methods reachable once the type is mentioned in reachable code;
# * an enum literal passed as an argument (`Role::Removed`) is carried into
#   the callee, and `if role == Role::X { .. }` is pruned by it (a block
#   that returns also ends what follows it);
# * a method called on an `aws_sdk_<service>::Client` is an SDK operation.
# Method calls whose receiver type is unknown are followed by name unless
# the name is one that std and serde types share (`get`, `new`...). A fn
# with more SDK `.send()`s than recognised operations is reported, so a
# call on a client the reader cannot type is not lost silently.
AMBIGUOUS_METHODS = {
    "get", "new", "list", "count", "scan", "get_item", "load", "send", "insert",
    "remove", "len", "clone", "from", "into", "default", "fmt", "next", "map",
    "push", "extend", "contains", "parse", "finish", "update", "read", "write",
    "handle", "apply", "build", "as_str", "to_string", "answer", "run", "call",
}

TOKEN_RE = re.compile(
    r"'[A-Za-z_]\w*(?!')|[A-Za-z_]\w*|\d+(?:\.\d+)?\w*|::|->|=>|==|!=|<=|>=|&&|\|\||\.\.=?|\S"
)


def strip_rust(src):
    """Comments and literal contents blanked; newlines kept."""
    out, i, n = [], 0, len(src)

    def blank(s):
        return re.sub(r"[^\n]", " ", s)

    while i < n:
        c = src[i]
        if src.startswith("//", i):
            j = src.find("\n", i)
            j = n if j < 0 else j
            out.append(blank(src[i:j]))
            i = j
        elif src.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if src.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif src.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append(blank(src[i:j]))
            i = j
        elif (m := re.match(r'b?r(#*)"', src[i:])) and (i == 0 or not (src[i - 1].isalnum() or src[i - 1] == "_")):
            close = '"' + m.group(1)
            j = src.find(close, i + m.end())
            j = n if j < 0 else j + len(close)
            out.append('""' + blank(src[i + 2:j]))
            i = j
        elif c == '"' or (
            c == "b" and src.startswith('b"', i) and (i == 0 or not (src[i - 1].isalnum() or src[i - 1] == "_"))
        ):
            j = i + (2 if c == "b" else 1)
            while j < n and src[j] != '"':
                j += 2 if src[j] == "\\" else 1
            out.append('""' + blank(src[i + 2:j + 1]))
            i = j + 1
        elif c == "'" and (m := re.match(r"'(?:\\(?:x[0-9a-fA-F]{2}|u\{[0-9a-fA-F]+\}|.)|[^\\'\n])'", src[i:])):
            out.append("' '" + blank(src[i + 3:i + m.end()]))
            i += m.end()
        else:
            out.append(c)
            i += 1
    return "".join(out)


def matching(text, i, open_="{", close="}"):
    """Index just past the bracket matching text[i]."""
    depth = 0
    for j in range(i, len(text)):
        if text[j] == open_:
            depth += 1
        elif text[j] == close:
            depth -= 1
            if depth == 0:
                return j + 1
    return len(text)


def header_end(text, i):
    """Index of the `{` or `;` that ends an item header starting at i."""
    depth = 0
    for j in range(i, len(text)):
        c = text[j]
        if c in "([":
            depth += 1
        elif c in ")]":
            depth -= 1
        elif depth == 0 and c in "{;":
            return j
    return len(text)


def stmt_end(text, i):
    """Index of the `;` ending the statement that continues at i."""
    depth = 0
    for j in range(i, len(text)):
        c = text[j]
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
            if depth < 0:
                return j
        elif c == ";" and depth == 0:
            return j
    return len(text)


def remove_cfg_test(text):
    while m := re.search(r"#\s*\[\s*cfg\s*\(\s*test\s*\)\s*\]", text):
        end = header_end(text, m.end())
        if end < len(text) and text[end] == "{":
            end = matching(text, end)
        else:
            end += 1
        text = text[:m.start()] + re.sub(r"[^\n]", " ", text[m.start():end]) + text[end:]
    return text


def split_top(s, sep=","):
    """Split on sep outside (), [], {}, <> (`->` is not a bracket)."""
    parts, depth, cur, prev = [], 0, [], ""
    for c in s:
        if c in "([{<" and not (c == "<" and prev == "<"):
            depth += 1
        elif c in ")]}" or (c == ">" and prev != "-"):
            depth -= 1
        if c == sep and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        prev = c
    if "".join(cur).strip():
        parts.append("".join(cur))
    return [p.strip() for p in parts if p.strip()]


def angle_group(s, i):
    """(content, end) of the <...> starting at s[i] == '<'."""
    depth, j = 0, i
    while j < len(s):
        if s[j] == "<":
            depth += 1
        elif s[j] == ">" and s[j - 1] != "-":
            depth -= 1
            if depth == 0:
                return s[i + 1:j], j + 1
        j += 1
    return s[i + 1:], len(s)


def parse_generics(s):
    """`'a, S: MediaStore + Send, L: Labeler` -> {S: [MediaStore, Send], L: [Labeler]}."""
    out = {}
    for p in split_top(s):
        if p.startswith("'") or p.startswith("const "):
            continue
        name, _, bounds = p.partition(":")
        out[name.strip()] = bound_names(bounds)
    return out


def bound_names(bounds):
    names = []
    for b in split_top(bounds, "+"):
        b = b.strip().lstrip("?")
        if not b or b.startswith("'"):
            continue
        base = b.split("<", 1)[0].strip()
        names.append(base.split("::")[-1])
    return names


class Fn:
    def __init__(self, module, name, header, body, body_line, file, line, impl=None):
        self.module, self.name = module, name
        self.body, self.body_line, self.file, self.line = body, body_line, file, line
        self.impl = impl  # Impl or None
        self.tokens = [(m.group(), m.start()) for m in TOKEN_RE.finditer(body)]
        self.generics = dict(impl.generics) if impl else {}
        rest = header
        if rest.startswith("<"):
            g, end = angle_group(rest, 0)
            self.generics.update(parse_generics(g))
            rest = rest[end:]
        self.params, self.param_order, self.ret = {}, [], ""
        if "(" in rest:
            start = rest.index("(")
            end = matching(rest, start, "(", ")")
            for p in split_top(rest[start + 1:end - 1]):
                if re.fullmatch(r"&?\s*('\w+\s+)?(mut\s+)?self", p):
                    continue
                name, _, ty = p.partition(":")
                name = re.sub(r"^(mut|ref)\s+", "", name.strip())
                self.params[name] = ty.strip()
                self.param_order.append(name)
            tail = rest[end:]
            where = re.search(r"\bwhere\b", tail)
            if where:
                for clause in split_top(tail[where.end():]):
                    n, _, b = clause.partition(":")
                    self.generics.setdefault(n.strip(), []).extend(bound_names(b))
                tail = tail[:where.start()]
            if "->" in tail:
                self.ret = tail.split("->", 1)[1].strip()

    @property
    def label(self):
        if self.impl:
            return f"{self.impl.type_name}::{self.name}"
        if self.module[0] == "bin":
            return f"{self.module[1]}::{self.name}"
        return "::".join(self.module[1:] + [self.name])


class Impl:
    def __init__(self, header, module):
        self.module = module
        self.generics = {}
        h = header.strip()
        if h.startswith("<"):
            g, end = angle_group(h, 0)
            self.generics = parse_generics(g)
            h = h[end:].strip()
        where = re.search(r"\bwhere\b", h)
        if where:
            for clause in split_top(h[where.end():]):
                n, _, b = clause.partition(":")
                self.generics.setdefault(n.strip(), []).extend(bound_names(b))
            h = h[:where.start()]
        trait, _, ty = h.rpartition(" for ") if re.search(r"\sfor\s", h) else ("", "", h)
        self.trait_path = trait.strip().split("<", 1)[0]
        self.trait = self.trait_path.split("::")[-1] if self.trait_path else None
        ty = ty.strip()
        base = ty.split("<", 1)[0].strip()
        self.type_name = base.split("::")[-1]
        self.type_args = []
        if "<" in ty:
            g, _ = angle_group(ty, ty.index("<"))
            self.type_args = [a for a in split_top(g) if not a.startswith("'")]
        self.methods = {}


class Crate:
    """The items of one crate's src/ (library modules and bin/*.rs)."""

    def __init__(self, src_dir):
        self.src = src_dir
        self.free = {}        # "crate::m::f" -> Fn
        self.types = {}       # name -> {"fields": {..}, "generics": [..], "kind": ..}
        self.traits = {}      # name -> {"methods": {name: Fn or None}}
        self.impls = []       # [Impl]
        self.uses = {}        # module tuple -> {local name: path list}
        self.fns = []
        self.bins = {}        # binary -> main Fn
        for path in sorted(src_dir.rglob("*.rs")):
            rel = path.relative_to(src_dir)
            if rel.parts[0] == "bin":
                module = ["bin", rel.stem]
            else:
                parts = list(rel.with_suffix("").parts)
                if parts[-1] in ("lib", "mod", "main"):
                    parts = parts[:-1]
                module = ["crate"] + parts
            text = remove_cfg_test(strip_rust(path.read_text()))
            self.parse(text, 0, len(text), module, None, path, text)
        self.follow_reexports()

    def follow_reexports(self):
        """A function is also known by the paths that `use` it elsewhere
        (a module's `pub use child::f` makes `module::f` a path to it), so
        calls through a re-export resolve; chains are followed."""
        changed = True
        while changed:
            changed = False
            for module, table in self.uses.items():
                for local, target in table.items():
                    if local == "*":
                        continue
                    alias = "::".join(list(module) + [local])
                    # `use child::f` names a path relative to the module.
                    fn = self.free.get("::".join(target)) or self.free.get(
                        "::".join(list(module) + list(target)))
                    if fn is not None and alias not in self.free:
                        self.free[alias] = fn
                        changed = True

    def parse(self, text, start, end, module, impl, path, full):
        item = re.compile(r"\b(fn|impl|trait|mod|struct|enum|union|use)\b")
        i = start
        while True:
            m = item.search(text, i, end)
            if not m:
                return
            kind = m.group(1)
            if kind == "use":
                semi = text.index(";", m.end())
                self.add_use(module, text[m.end():semi])
                i = semi + 1
                continue
            h_end = header_end(text, m.end())
            header = text[m.end():h_end].strip()
            has_block = h_end < end and text[h_end] == "{"
            b_end = matching(text, h_end) if has_block else h_end + 1
            if kind == "fn":
                nm = re.match(r"\s*(\w+)", text[m.end():])
                name = nm.group(1)
                sig = text[m.end() + nm.end():h_end].strip()
                line = full.count("\n", 0, m.start()) + 1
                body = text[h_end:b_end] if has_block else ""
                fn = Fn(module, name, sig, body, full.count("\n", 0, h_end) + 1, path, line,
                        impl if isinstance(impl, Impl) else None)
                if isinstance(impl, dict):  # a trait's method
                    impl["methods"][name] = fn if has_block else None
                    if has_block:
                        fn.generics.update(impl.get("generics", {}))
                        self.fns.append(fn)
                elif isinstance(impl, Impl):
                    impl.methods[name] = fn
                    self.fns.append(fn)
                else:
                    self.free["::".join(module + [name])] = fn
                    self.fns.append(fn)
                    if module[0] == "bin" and name == "main":
                        self.bins[module[1]] = fn
            elif kind == "impl" and has_block:
                imp = Impl(header, module)
                self.impls.append(imp)
                self.parse(text, h_end + 1, b_end - 1, module, imp, path, full)
            elif kind == "trait" and has_block:
                name = re.match(r"\s*(\w+)", header).group(1)
                tr = {"methods": {}, "module": module, "generics": {}}
                self.traits[name] = tr
                self.parse(text, h_end + 1, b_end - 1, module, tr, path, full)
            elif kind == "mod" and has_block:
                name = re.match(r"\s*(\w+)", header).group(1)
                self.parse(text, h_end + 1, b_end - 1, module + [name], None, path, full)
            elif kind in ("struct", "enum", "union"):
                nm = re.match(r"\s*(\w+)\s*(<)?", header)
                generics = []
                if nm.group(2):
                    g, _ = angle_group(header, nm.start(2))
                    generics = list(parse_generics(g))
                fields = {}
                if kind == "struct":
                    rest = header[nm.end(1):]
                    if "(" in rest.split("where")[0]:  # tuple struct
                        s = rest.index("(")
                        inner = rest[s + 1:matching(rest, s, "(", ")") - 1]
                        for k, f in enumerate(split_top(re.sub(r"#\[[^\]]*\]", "", inner))):
                            fields[str(k)] = re.sub(r"^pub(\([^)]*\))?\s+", "", f)
                    elif has_block:
                        inner = re.sub(r"#\[[^\]]*\]", "", text[h_end + 1:b_end - 1])
                        for f in split_top(inner):
                            f = re.sub(r"^pub(\([^)]*\))?\s+", "", f)
                            n, _, ty = f.partition(":")
                            fields[n.strip()] = ty.strip()
                self.types[nm.group(1)] = {"kind": kind, "fields": fields, "generics": generics,
                                           "module": module}
            i = b_end

    def add_use(self, module, tree):
        table = self.uses.setdefault(tuple(module), {})

        def expand(prefix, t):
            t = t.strip()
            if not t:
                return
            if t.endswith("}") and "{" in t:
                head = t[:t.index("{")].rstrip(":").strip()
                inner = t[t.index("{") + 1:-1]
                pre = prefix + [s for s in head.split("::") if s]
                for part in split_top(inner):
                    expand(pre, part)
                return
            path, _, alias = t.partition(" as ")
            segs = prefix + [s.strip() for s in path.split("::") if s.strip()]
            if segs and segs[-1] == "self":
                segs = segs[:-1]
            if segs and segs[-1] == "*":
                table.setdefault("*", []).append(self.absolute(module, segs[:-1]))
            elif segs:
                table[(alias.strip() or segs[-1])] = self.absolute(module, segs)

        expand([], tree.replace("pub ", "", 1) if tree.startswith("pub ") else tree)

    def absolute(self, module, segs):
        segs = list(segs)
        if not segs:
            return segs
        if segs[0] == "crate" or segs[0] == "media_query_lambda":
            return ["crate"] + segs[1:]
        if segs[0] == "self":
            return list(module) + segs[1:]
        if segs[0] == "super":
            base = list(module)
            while segs and segs[0] == "super":
                base, segs = base[:-1], segs[1:]
            return base + segs
        return segs

    def resolve_path(self, module, segs):
        """An absolute path for a path written in module."""
        first = segs[0]
        if first in ("crate", "self", "super", "media_query_lambda"):
            return self.absolute(module, segs)
        local = self.uses.get(tuple(module), {})
        if first in local and first != "*":
            return local[first] + segs[1:]
        for glob in local.get("*", []):  # `use some::module::*`
            if "::".join(glob + segs) in self.free or (
                    len(segs) == 1 and segs[0] in self.types and glob[:1] == ["crate"]):
                return glob + segs
        if "::".join(module + segs) in self.free or (len(segs) == 1):
            return list(module) + segs
        if module[0] == "crate" and "::".join(["crate"] + segs) in self.free:
            return ["crate"] + segs
        # a child module of this one, or another crate
        cand = list(module) + segs
        if any(k.startswith("::".join(cand[:-1]) + "::") for k in self.free):
            return cand
        return segs

    def is_crate_type(self, name):
        return name in self.types

    def methods_of(self, type_name, method):
        return [imp.methods[method] for imp in self.impls
                if imp.type_name == type_name and method in imp.methods]

    def trait_methods(self, trait, method):
        out = [imp.methods[method] for imp in self.impls
               if imp.trait == trait and method in imp.methods]
        tr = self.traits.get(trait)
        if tr and tr["methods"].get(method):
            out.append(tr["methods"][method])
        return out


# Receiver types: ("type", name, args), ("bounds", [traits]), ("sdk", service),
# ("ext", path) or None (unknown).
WRAPPERS = {"Option", "Result", "Box", "Arc", "Rc", "Cow", "RefCell", "Mutex"}


class Analysis:
    def __init__(self, crate):
        self.c = crate

    def resolve_type(self, ty, fn, subst=None, unwrap=False):
        ty = (ty or "").strip()
        ty = re.sub(r"^&\s*('\w+\s+)?(mut\s+)?", "", ty).strip()
        ty = re.sub(r"^(mut|dyn)\s+", "", ty)
        if not ty:
            return None
        if ty.startswith("impl "):
            return ("bounds", bound_names(ty[5:]))
        if ty.startswith("("):
            return None
        base = ty.split("<", 1)[0].strip()
        args = []
        if "<" in ty:
            g, _ = angle_group(ty, ty.index("<"))
            args = [a for a in split_top(g) if not a.startswith("'")]
        if subst and base in subst:
            return self.resolve_type(subst[base], fn, None, unwrap)
        segs = base.split("::")
        name = segs[-1]
        if name == "Self" and fn.impl:
            return ("type", fn.impl.type_name, fn.impl.type_args)
        if len(segs) == 1 and name in fn.generics:
            return ("bounds", fn.generics[name])
        if unwrap and name in WRAPPERS and args:
            return self.resolve_type(args[0], fn, subst, unwrap)
        full = self.c.resolve_path(fn.module, segs)
        m = re.fullmatch(r"aws_sdk_(\w+)::Client", "::".join(full))
        if m:
            return ("sdk", m.group(1))
        if (full and full[0] == "crate" or len(segs) == 1) and self.c.is_crate_type(name):
            return ("type", name, args)
        return ("ext", "::".join(full))

    def field_type(self, t, field, fn):
        if not t or t[0] != "type":
            return None
        info = self.c.types.get(t[1])
        if not info or field not in info["fields"]:
            return None
        subst = dict(zip(info["generics"], t[2]))
        return self.resolve_type(info["fields"][field], fn, subst)

    def locals_of(self, fn):
        """Types of let bindings and typed closure parameters, in order."""
        if hasattr(fn, "_locals"):
            return fn._locals
        env = {}
        fn._locals = env
        text = fn.body
        for m in re.finditer(r"\|([^|]*)\|", text):
            for p in split_top(m.group(1)):
                n, _, ty = p.partition(":")
                if ty and re.fullmatch(r"\w+", n.strip()):
                    env[n.strip()] = self.resolve_type(ty, fn)
        for m in re.finditer(r"\blet\s+(mut\s+)?", text):
            eq = text.find("=", m.end())
            semi = text.find(";", m.end())
            if eq < 0 or (0 <= semi < eq):
                continue
            pat = text[m.end():eq].strip()
            rhs = text[eq + 1:stmt_end(text, eq + 1)].strip() if text[eq + 1] != "=" else ""
            if ":" in pat and re.fullmatch(r"\w+\s*:.+", pat):
                n, _, ty = pat.partition(":")
                env[n.strip()] = self.resolve_type(ty, fn, unwrap=True)
            elif re.fullmatch(r"\w+", pat):
                env[pat] = self.expr_type(rhs, fn, env)
            elif pat.startswith("(") and rhs.startswith("("):
                names = split_top(pat[1:-1])
                vals = split_top(rhs[1:matching(rhs, 0, "(", ")") - 1])
                if len(names) == len(vals):
                    new = {n.strip(): self.expr_type(v, fn, env) for n, v in zip(names, vals)
                           if re.fullmatch(r"(mut\s+)?\w+", n.strip())}
                    env.update({k.replace("mut ", ""): v for k, v in new.items()})
            elif (d := re.fullmatch(r"(\w+)\s*\{(.*)\}", pat, re.S)):
                t = ("type", d.group(1), []) if self.c.is_crate_type(d.group(1)) else None
                for f in split_top(d.group(2)):
                    k, _, v = f.partition(":")
                    if k.strip() != "..":
                        env[(v or k).strip()] = self.field_type(t, k.strip(), fn)
        return env

    def expr_type(self, expr, fn, env):
        """The type of `a.b`, `T::f(..)`, `T { .. }`, `a.b.m(..)` (one call,
        then only `.await`/`?`); None for anything else."""
        e = re.sub(r"\s+", " ", expr.strip())
        e = re.sub(r"\s*(\.|::)\s*", r"\1", e)
        e = re.sub(r"^&\s*(mut\s+)?", "", e)
        m = re.match(r"[A-Za-z_]\w*(?:(?:\.|::)\w+)*", e)
        if not m:
            return None
        head, rest = m.group(), e[m.end():].lstrip()
        opener = rest[:1] if rest[:1] in ("(", "{") else ""
        if opener:
            close = ")" if opener == "(" else "}"
            rest = rest[matching(rest, 0, opener, close):]
        if re.sub(r"(\.await|\?)", "", rest).strip():
            return None  # more calls follow: not followed
        if "." in head and "::" in head:
            return None
        if "::" in head or (opener and "." not in head):
            segs = head.split("::")
            key = "::".join(self.c.resolve_path(fn.module, segs))
            if opener == "(" and key in self.c.free:
                callee = self.c.free[key]
                return self.resolve_type(callee.ret, callee, unwrap=True)
            if opener == "(" and len(segs) >= 2 and self.c.is_crate_type(segs[-2]):
                for callee in self.c.methods_of(segs[-2], segs[-1]):
                    return self.resolve_type(callee.ret, callee, unwrap=True)
                return None
            if self.c.is_crate_type(segs[-1]):
                return ("type", segs[-1], [])
            if opener == "(" and len(segs) >= 2 and segs[-2][:1].isupper():
                return self.resolve_type("::".join(segs[:-1]), fn)
            return None
        chain = head.split(".")
        if opener == "(":
            for callee in self.dispatch(self.chain_type(chain[:-1], fn, env), chain[-1])[0]:
                return self.resolve_type(callee.ret, callee, unwrap=True)
            return None
        return self.chain_type(chain, fn, env) if not opener else None

    def chain_type(self, chain, fn, env=None):
        env = self.locals_of(fn) if env is None else env
        base = chain[0]
        if base == "self" and fn.impl:
            t = ("type", fn.impl.type_name, fn.impl.type_args)
        elif base in env:
            t = env[base]
        elif base in fn.params:
            t = self.resolve_type(fn.params[base], fn)
        else:
            return None
        for field in chain[1:]:
            t = self.field_type(t, field, fn)
        return t

    def dispatch(self, t, method):
        """(crate fns, sdk (service, op) or None) a method call may reach."""
        if t is None:
            return [], None
        kind = t[0]
        if kind == "type":
            return self.c.methods_of(t[1], method), None
        if kind == "bounds":
            out = []
            for tr in t[1]:
                out += self.c.trait_methods(tr, method)
            return out, None
        if kind == "sdk":
            return [], (t[1], method)
        return [], None

    # -- call graph ------------------------------------------------------------

    def live_tokens(self, fn, bindings):
        toks = fn.tokens
        if not bindings:
            return toks
        dead = [False] * len(toks)
        n = len(toks)

        def block_end(k):  # k at "{" -> index of matching "}"
            depth = 0
            for j in range(k, n):
                if toks[j][0] == "{":
                    depth += 1
                elif toks[j][0] == "}":
                    depth -= 1
                    if depth == 0:
                        return j
            return n - 1

        for k in range(n - 7):
            if toks[k][0] != "if":
                continue
            w = [t[0] for t in toks[k + 1:k + 7]]
            cond = None
            if w[0] in bindings and w[1] in ("==", "!=") and w[3] == "::" and w[5] == "{":
                cond, op, const, brace = w[0], w[1], f"{w[2]}::{w[4]}", k + 6
            elif w[4] in bindings and w[3] in ("==", "!=") and w[1] == "::" and w[5] == "{":
                cond, op, const, brace = w[4], w[3], f"{w[0]}::{w[2]}", k + 6
            if cond is None:
                continue
            truth = (bindings[cond] == const) == (op == "==")
            close = block_end(brace)
            after = close + 1
            else_block = None
            if after < n and toks[after][0] == "else" and after + 1 < n and toks[after + 1][0] == "{":
                else_block = (after + 1, block_end(after + 1))
            if not truth:
                for j in range(brace + 1, close):
                    dead[j] = True
                continue
            if else_block:
                for j in range(else_block[0] + 1, else_block[1]):
                    dead[j] = True
            depth, returns = 0, False
            for j in range(brace + 1, close):
                t = toks[j][0]
                if t in "([{":
                    depth += 1
                elif t in ")]}":
                    depth -= 1
                elif t == "return" and depth == 0:
                    returns = True
            if returns:
                rest = (else_block[1] if else_block else close) + 1
                depth = 0
                for j in range(rest, n):
                    t = toks[j][0]
                    if t in "([{":
                        depth += 1
                    elif t in ")]}":
                        depth -= 1
                        if depth < 0:
                            break
                    dead[j] = True
        return [t for t, d in zip(toks, dead) if not d]

    def args_at(self, toks, k):
        """Argument token lists of the call whose "(" is toks[k]."""
        args, cur, depth = [], [], 0
        for j in range(k, len(toks)):
            t = toks[j][0]
            if t in "([{":
                depth += 1
                if depth == 1:
                    continue
            elif t in ")]}":
                depth -= 1
                if depth == 0:
                    if cur:
                        args.append(cur)
                    return args
            if depth == 1 and t == ",":
                args.append(cur)
                cur = []
            else:
                cur.append(t)
        return args

    def edges(self, fn, bindings):
        """(callees [(Fn, bindings)], sdk calls [(service, op, line)], mentioned types)."""
        toks = self.live_tokens(fn, bindings)
        line0 = fn.body_line
        calls, sdk, types = [], [], set()

        def line_of(pos):
            return line0 + fn.body.count("\n", 0, pos)

        n = len(toks)
        for k, (t, pos) in enumerate(toks):
            prev = toks[k - 1][0] if k else ""
            if t == "Self" and fn.impl:
                types.add(fn.impl.type_name)
            if not re.fullmatch(r"[A-Za-z_]\w*", t) or prev in (".", "::", "fn", "let", "struct", "enum"):
                if t == "." and k + 2 < n and re.fullmatch(r"[A-Za-z_]\w*", toks[k + 1][0]):
                    self.method_call(fn, toks, k, calls, sdk, line_of)
                continue
            if self.c.is_crate_type(t):
                types.add(t)
            segs, j = [t], k + 1
            while j + 1 < n and toks[j][0] == "::":
                if toks[j + 1][0] == "<":
                    depth = 0
                    while j + 1 < n:
                        j += 1
                        if toks[j][0] == "<":
                            depth += 1
                        elif toks[j][0] == ">":
                            depth -= 1
                            if depth == 0:
                                break
                    j += 1
                    continue
                segs.append(toks[j + 1][0])
                j += 2
            if j < n and toks[j][0] == "!":
                continue
            is_call = j < n and toks[j][0] == "("
            targets = self.path_targets(fn, segs)
            for callee in targets:
                nb = {}
                if is_call and callee.param_order:
                    for idx, arg in enumerate(self.args_at(toks, j)):
                        a = [x for x in arg if x not in ("&", "mut")]
                        if idx >= len(callee.param_order):
                            break
                        if len(a) == 3 and a[1] == "::" and self.c.types.get(a[0], {}).get("kind") == "enum":
                            nb[callee.param_order[idx]] = f"{a[0]}::{a[2]}"
                        elif len(a) == 1 and a[0] in bindings:
                            nb[callee.param_order[idx]] = bindings[a[0]]
                calls.append((callee, nb, line_of(pos)))
        return calls, sdk, types

    def path_targets(self, fn, segs):
        if segs[0] == "Self" and fn.impl and len(segs) == 2:
            return self.c.methods_of(fn.impl.type_name, segs[1])
        if segs[0] in ("self", "Some", "Ok", "Err", "None") and len(segs) == 1:
            return []
        full = self.c.resolve_path(fn.module, segs)
        key = "::".join(full)
        if key in self.c.free:
            return [self.c.free[key]]
        if len(segs) >= 2 and self.c.is_crate_type(segs[-2]) and (
                full[0] == "crate" or segs[-2] in self.c.types):
            return self.c.methods_of(segs[-2], segs[-1])
        return []

    def method_call(self, fn, toks, k, calls, sdk, line_of):
        method = toks[k + 1][0]
        j = k + 2
        if j < len(toks) and toks[j][0] == "::":  # turbofish
            depth = 0
            while j + 1 < len(toks):
                j += 1
                if toks[j][0] == "<":
                    depth += 1
                elif toks[j][0] == ">":
                    depth -= 1
                    if depth == 0:
                        j += 1
                        break
        if j >= len(toks) or toks[j][0] != "(":
            return
        chain, r = [], k - 1
        known = True
        while r >= 0:
            t = toks[r][0]
            if re.fullmatch(r"\w+", t):
                chain.insert(0, t)
                if r >= 1 and toks[r - 1][0] == ".":
                    r -= 2
                    continue
                if r >= 1 and toks[r - 1][0] == "::":
                    known = False
                break
            known = False
            break
        t = self.chain_type(chain, fn) if known and chain else None
        line = line_of(toks[k][1])
        if t and t[0] == "sdk":
            if method not in SDK_CLIENT_METHODS:
                sdk.append((t[1], method, line))
            return
        targets, _ = self.dispatch(t, method)
        if t is None:
            if method not in AMBIGUOUS_METHODS:
                targets = [f for imp in self.c.impls for name, f in imp.methods.items() if name == method]
        for callee in targets:
            calls.append((callee, {}, line))

    def reach(self, main):
        """{(service, op): (line, file, path of labels)} reachable from main."""
        start = (id(main), ())
        fns = {id(main): main}
        parent = {start: None}
        labels = {start: main.label}
        queue = deque([start])
        found = {}
        types_seen = set()
        while queue:
            node = queue.popleft()
            fn = fns[node[0]]
            bindings = dict(node[1])
            calls, sdk, types = self.edges(fn, bindings)
            for svc, op, line in sdk:
                if (svc, op) not in found:
                    found[(svc, op)] = (fn, line, self.path_to(node, parent, labels))
            new_types = types - types_seen
            types_seen |= new_types
            for ty in new_types:  # methods other crates call on this type
                for imp in self.c.impls:
                    if imp.type_name == ty and imp.trait and imp.trait not in self.c.traits:
                        for m in imp.methods.values():
                            calls.append((m, {}, fn.line))
            for callee, nb, _ in calls:
                key = (id(callee), tuple(sorted(nb.items())))
                fns[id(callee)] = callee
                if key not in parent:
                    parent[key] = node
                    tag = ",".join(f"{k}={v}" for k, v in sorted(nb.items()))
                    labels[key] = callee.label + (f"[{tag}]" if tag else "")
                    queue.append(key)
        return found

    @staticmethod
    def path_to(node, parent, labels):
        out = []
        while node is not None:
            out.append(labels[node])
            node = parent[node]
        return list(reversed(out))

    def unattributed_sends(self):
        """Fns with more SDK `.send()`s than operations recognised in them: a
        call on a client whose type the reader could not tell."""
        out = []
        for fn in self.c.fns:
            names = [t for t, _ in fn.tokens]
            sends = sum(names[i:i + 4] == [".", "send", "(", ")"] for i in range(len(names)))
            if sends and sends > len(self.edges(fn, {})[1]):
                out.append(fn)
        return out


# ---- template helpers --------------------------------------------------------

def canon(v):
    return json.dumps(v, sort_keys=True, default=str)


def as_list(v):
    return v if isinstance(v, list) else [v]


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


def action_matches(granted, wanted):
    pattern = "^" + re.escape(granted.lower()).replace(r"\*", ".*").replace(r"\?", ".") + "$"
    return re.match(pattern, wanted.lower()) is not None


def policy_grants(name, props, problems):
    """[(action, resources, statement)] the function's Policies allow."""
    out = []
    if "Role" in props:
        problems.append(f"{name}: an explicit Role cannot be checked for least privilege; use Policies statements")
    for entry in as_list(props.get("Policies", [])):
        if isinstance(entry, dict) and "Statement" in entry:
            for st in as_list(entry["Statement"]):
                if st.get("Effect") != "Allow":
                    continue
                if "NotAction" in st or "NotResource" in st:
                    problems.append(f"{name}: NotAction/NotResource grants cannot be checked; list actions")
                for a in as_list(st.get("Action", [])):
                    out.append((str(a), as_list(st.get("Resource", [])), st))
        else:
            what = entry if isinstance(entry, str) else next(iter(entry), "?")
            problems.append(f"{name}: policy {what!r} is not an explicit Statement; "
                            "the least-privilege rule checks statements only")
    return out


def platform_needs(name, props, resources, glob):
    """(required {action: (resource expr, why)}, allowed {action}) from configuration."""
    required, allowed = {}, set(BASIC_ACTIONS)
    if props.get("Tracing", glob.get("Tracing")) == "Active":
        allowed |= set(TRACING_ACTIONS)

    def destination(dest, where):
        if not isinstance(dest, dict) or "Destination" not in dest:
            return
        kind = dest.get("Type")
        target = ref_target(dest["Destination"])
        if kind is None and target in resources:
            kind = RESOURCE_KINDS.get(resources[target].get("Type"))
        action = DESTINATION_ACTIONS.get(kind)
        if not action:
            return
        allowed.add(action)
        if "Type" not in dest:  # SAM adds the policy only when Type is given
            required[action] = (dest["Destination"], where)

    dc = props.get("EventInvokeConfig", {}).get("DestinationConfig", {})
    for when in ("OnSuccess", "OnFailure"):
        destination(dc.get(when), f"EventInvokeConfig {when} destination")
    for ev_name, ev in props.get("Events", {}).items():
        kind = ev.get("Type")
        allowed |= set(STREAM_READ_ACTIONS.get(kind, []))
        for when in ("OnSuccess", "OnFailure"):
            destination(ev.get("Properties", {}).get("DestinationConfig", {}).get(when),
                        f"event {ev_name} {when} destination")
    return required, allowed


def check_iam(name, res, props, resources, glob, analysis, crate, explain, problems):
    binary = res.get("Metadata", {}).get("BuildProperties", {}).get("Binary")
    main = crate.bins.get(binary)
    if main is None:
        problems.append(f"{name}: no fn main in src/bin/{binary}.rs; its SDK calls cannot be checked")
        return
    found = analysis.reach(main)
    needed = {}  # action -> (why, fn, line, path)
    for (svc, op), (fn, line, path) in sorted(found.items()):
        entry = SDK_ACTIONS.get((svc, op))
        rel = fn.file.relative_to(crate.src.parent.parent)
        if entry is None:
            problems.append(f"{name}: {rel}:{line} calls aws_sdk_{svc} `{op}`, which SDK_ACTIONS in "
                            "scripts/check_template.py does not map to IAM actions")
            continue
        for action in entry[0]:
            needed.setdefault(action, (f"{svc}::{op}", rel, line, path))
    required, allowed = platform_needs(name, props, resources, glob)
    grants = policy_grants(name, props, problems)
    granted = [a for a, _, _ in grants]
    for action, (op, rel, line, path) in sorted(needed.items()):
        if not any(action_matches(g, action) for g in granted):
            problems.append(f"{name}: {action} is not granted, but {binary} calls {op} "
                            f"({rel}:{line}, via {' -> '.join(path)})")
    for action, (dest, why) in sorted(required.items()):
        covering = [r for a, r, _ in grants if action_matches(a, action)]
        if not covering:
            problems.append(f"{name}: {action} is not granted, but its {why} needs it "
                            "(SAM adds that policy only when the destination has a Type)")
        elif not any(canon(r) == canon(dest) or r == "*" for rs in covering for r in rs):
            problems.append(f"{name}: {action} is granted, but not on its {why} {canon(dest)}")
    for action in granted:
        if "*" in action or "?" in action:
            problems.append(f"{name}: wildcard action {action}: grant the actions the code calls")
        elif action.lower() not in {a.lower() for a in set(needed) | allowed | set(required)}:
            problems.append(f"{name}: grants {action}, which neither {binary}'s code "
                            "nor the function's configuration needs")
    if explain:
        print(f"{name} ({binary}):")
        for (svc, op), (fn, line, path) in sorted(found.items()):
            rel = fn.file.relative_to(crate.src.parent.parent)
            actions = ", ".join(SDK_ACTIONS.get((svc, op), (["?"], ""))[0])
            print(f"  {svc}::{op} -> {actions}   [{rel}:{line}; {' -> '.join(path)}]")
        for action, (dest, why) in sorted(required.items()):
            print(f"  (configuration) {action}   [{why}]")


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


# The local stack reads the table's stream as the template's event source
# mapping does (stack/src/table_stream.rs): its constants must agree.
STREAM_SETTINGS = {
    "BatchSize": "BATCH_SIZE",
    "MaximumBatchingWindowInSeconds": "BATCHING_WINDOW_SECONDS",
    "MaximumRetryAttempts": "MAX_RETRIES",
}


def stream_mapping_problems(root, functions):
    source = (root / "stack" / "src" / "table_stream.rs").read_text()
    problems = []
    for name, res in functions.items():
        for ev_name, ev in res.get("Properties", {}).get("Events", {}).items():
            if ev.get("Type") != "DynamoDB":
                continue
            for setting, const in STREAM_SETTINGS.items():
                m = re.search(rf"pub const {const}: \w+ = (\d+);", source)
                want = ev["Properties"].get(setting)
                if not m or int(m.group(1)) != int(want):
                    problems.append(f"{name}.{ev_name}: {setting} is {want}, but the local stack's "
                                    f"{const} is {m.group(1) if m else 'missing'} (stack/src/table_stream.rs)")
    return problems


def async_invoke_problems(root, functions):
    """The local stack retries a failed S3 or SNS event as often as the
    template's `EventInvokeConfig` tells Lambda to (stack/src/invoke.rs)."""
    source = (root / "stack" / "src" / "invoke.rs").read_text()
    m = re.search(r"pub const ASYNC_RETRIES: \w+ = (\d+);", source)
    have = int(m.group(1)) if m else None
    problems = []
    for name, res in functions.items():
        props = res.get("Properties", {})
        if not any(ev.get("Type") in ("S3", "SNS") for ev in props.get("Events", {}).values()):
            continue
        want = props.get("EventInvokeConfig", {}).get("MaximumRetryAttempts")
        if want is None or have != int(want):
            problems.append(f"{name}: EventInvokeConfig.MaximumRetryAttempts is {want}, but the local "
                            f"stack's ASYNC_RETRIES is {have} (stack/src/invoke.rs)")
    return problems


def main(argv) -> int:
    explain = "--explain" in argv
    args = [a for a in argv if a != "--explain"]
    path = args[0] if args else "template.yaml"
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
    crates = {}
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
        else:
            if crate not in crates:
                crates[crate] = Crate(crate / "src")
                for fn in Analysis(crates[crate]).unattributed_sends():
                    problems.append(f"{fn.file.relative_to(root)}:{fn.line}: {fn.label} has an SDK .send() "
                                    "whose operation the rule cannot see (give its client a type)")
            c = crates[crate]
            check_iam(name, res, props, resources, glob, Analysis(c), c, explain, problems)
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
    problems += stream_mapping_problems(root, functions)
    problems += async_invoke_problems(root, functions)
    missing = REQUIRED_OUTPUTS - set(t.get("Outputs", {}))
    if missing:
        problems.append(f"missing Outputs: {sorted(missing)}")
    for p in problems:
        print(f"template.yaml: {p}")
    print(f"template rules: {len(functions)} functions checked, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
