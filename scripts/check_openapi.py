#!/usr/bin/env python3
"""Keeps openapi.yaml from drifting away from the responder.

openapi-spec-validator only says the document is well-formed OpenAPI; it
cannot know what the Rust code does. This reads the code's own constants
(the query parameters, the error constructors and codes, the header names
and fixed values, the page size, the media types) and checks the document
says the same, both ways, then validates every example in the document and
every API body in the shared vectors against the document's schemas.
Exits non-zero with one line per problem.

Run from the repository root: python scripts/check_openapi.py [openapi.yaml]
"""
import base64
import hashlib
import json
import pathlib
import re
import sys
from urllib.parse import quote

import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

ROOT = pathlib.Path(__file__).resolve().parent.parent
SRC = ROOT / "domain" / "src"
# Every file whose code can end up in a reply: the responder, what it calls
# to parse a request, and the edge adapter (its own 500).
EMITTERS = [
    SRC / "http",
    SRC / "query.rs",
    SRC / "page.rs",
    SRC / "api.rs",
    ROOT / "edge" / "src" / "worker_glue.rs",
]
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
DOC_URI = "urn:media-query:openapi"


def rust(path: pathlib.Path) -> str:
    """The file's text without its unit tests, which may build any reply;
    for a module folder, its files' texts (but its tests.rs) together."""
    if path.is_dir():
        return "\n".join(rust(f) for f in sorted(path.glob("*.rs")) if f.name != "tests.rs")
    return path.read_text().split("#[cfg(test)]")[0]


def one(pattern: str, text: str, what: str) -> re.Match:
    m = re.search(pattern, text, re.S)
    if not m:
        sys.exit(f"check_openapi: cannot find {what} in the Rust source; update this script")
    return m


def strings(list_body: str) -> list[str]:
    return re.findall(r'"([^"]*)"', list_body)


class Spec:
    def __init__(self, path: pathlib.Path):
        self.doc = yaml.safe_load(path.read_text())
        resource = Resource.from_contents(self.doc, default_specification=DRAFT202012)
        self.registry = Registry().with_resource(DOC_URI, resource)

    def deref(self, node):
        while isinstance(node, dict) and "$ref" in node:
            node = self.at(node["$ref"].removeprefix("#"))
        return node

    def at(self, pointer: str):
        node = self.doc
        for part in pointer.split("/")[1:]:
            part = part.replace("~1", "/").replace("~0", "~")
            node = node[int(part)] if isinstance(node, list) else node[part]
        return node

    def validator(self, pointer: str) -> Draft202012Validator:
        """A validator for the schema at `pointer`, its `$ref`s resolved in the document."""
        ref = {"$ref": f"{DOC_URI}#{quote(pointer, safe='/~')}"}
        return Draft202012Validator(ref, registry=self.registry)

    def operations(self):
        for path, item in self.doc["paths"].items():
            shared = item.get("parameters", [])
            for method, op in item.items():
                if method in METHODS:
                    params = [self.deref(p) for p in shared + op.get("parameters", [])]
                    yield path, method, op, params

    def codes_in(self, schema) -> set[str]:
        """The `Code` values a (possibly `allOf`) error schema pins with `const`."""
        schema = self.deref(schema)
        found = set()
        code = schema.get("properties", {}).get("Code", {})
        if "const" in code:
            found.add(code["const"])
        for sub in schema.get("allOf", []):
            found |= self.codes_in(sub)
        return found

    def error_responses(self) -> set[tuple[int, str]]:
        """(status, Code) of every documented error body."""
        responses = [
            (status, r) for _, _, op, _ in self.operations() for status, r in op["responses"].items()
        ]
        # 405 belongs to no operation: every method the API lacks answers it.
        responses.append(("405", self.doc["components"]["responses"]["MethodNotAllowed"]))
        pairs = set()
        for status, r in responses:
            r = self.deref(r)
            for media in r.get("content", {}).values():
                for code in self.codes_in(media["schema"]):
                    pairs.add((int(status), code))
        return pairs

    def header_names(self) -> set[str]:
        names = set()
        for r in self.doc["components"]["responses"].values():
            names |= {h.lower() for h in r.get("headers", {})}
        return names


def check_params(spec: Spec, problems: list[str]) -> None:
    params = strings(one(r"pub const PARAMS: \[&str; \d+\] = \[(.*?)\];", rust(SRC / "query.rs"), "PARAMS").group(1))
    for path, method, _, declared in spec.operations():
        query = [p["name"] for p in declared if p["in"] == "query"]
        if path == "/" and method in ("get", "head"):
            if sorted(query) != sorted(params):
                problems.append(
                    f"{method.upper()} /: query parameters {sorted(query)}, query.rs PARAMS {sorted(params)}"
                )
        elif query:
            problems.append(f"{method.upper()} {path}: query parameters {query}, but only GET / reads any")


def check_errors(spec: Spec, problems: list[str]) -> None:
    api = rust(SRC / "api.rs")
    constructors = {}
    for name, body in re.findall(r"pub fn (\w+)\([^)]*\) -> ApiError \{(.*?)\n    \}", api, re.S):
        m = one(r'ApiError::new\(\s*(\d{3}),\s*"(\w+)"', body, f"the status and code of ApiError::{name}")
        constructors[name] = (int(m.group(1)), m.group(2))
    if not constructors:
        sys.exit("check_openapi: no ApiError constructors found in api.rs; update this script")
    emitted = set()
    for path in EMITTERS:
        for name in re.findall(r"ApiError::(\w+)\(", rust(path)):
            if name == "new":
                continue
            if name not in constructors:
                problems.append(f"{path.relative_to(ROOT)}: ApiError::{name} is not a constructor this script knows")
            else:
                emitted.add(constructors[name])
    documented = spec.error_responses()
    for status, code in sorted(emitted - documented):
        problems.append(f"the code answers {status} {code}, openapi.yaml does not document it")
    for status, code in sorted(documented - emitted):
        problems.append(f"openapi.yaml documents {status} {code}, which no code path answers")
    # A Code spelt out directly (say, a future literal in http/) counts too.
    literals = set()
    for path in (SRC / "api.rs", SRC / "http"):
        literals |= set(re.findall(r'"([A-Z][A-Za-z]*Error)"', rust(path)))
    enum = set(spec.doc["components"]["schemas"]["Error"]["properties"]["Code"]["enum"])
    for code in sorted(literals - enum):
        problems.append(f"Code {code} appears in the Rust source but not in the Error schema's enum")
    for code in sorted(enum - {c for _, c in emitted}):
        problems.append(f"the Error schema's enum has {code}, which no code path answers")
    for code in sorted(enum):
        if code not in spec.doc["components"]["schemas"]:
            problems.append(f"no schema components.schemas.{code} for the error code {code}")


def check_headers(spec: Spec, problems: list[str]) -> None:
    http = rust(SRC / "http")
    allowed = one(r'const ALLOWED: &str = "([^"]*)";', http, "ALLOWED").group(1)
    # Header name to the fixed values the code gives it (none if computed).
    sent: dict[str, set[str]] = {}
    for name, value in re.findall(r'\(\s*"([a-z][a-z-]*)",\s*("[^"]*"|\w+)', http):
        values = sent.setdefault(name, set())
        if value == "ALLOWED":
            values.add(allowed)
        elif value.startswith('"'):
            values.add(value.strip('"'))
    # OpenAPI ignores a Content-Type response header: the media type says it.
    sent.pop("content-type", None)
    documented = spec.header_names()
    for name in sorted(set(sent) - documented):
        problems.append(f"http.rs sends the header {name}, openapi.yaml documents no such header")
    for name in sorted(documented - set(sent)):
        problems.append(f"openapi.yaml documents the header {name}, http.rs never sends it")
    # A header with a fixed value in the code must have that value in the document.
    for r in spec.doc["components"]["responses"].values():
        for name, h in r.get("headers", {}).items():
            schema = spec.deref(spec.deref(h)["schema"])
            fixed, values = schema.get("const"), sent.get(name.lower())
            if fixed is not None and values and str(fixed) not in values:
                problems.append(f"header {name}: openapi.yaml says {fixed!r}, http.rs sends {sorted(values)}")
    methods = {m.strip().lower() for m in allowed.split(",")}
    for path, item in spec.doc["paths"].items():
        ops = set(item) & METHODS
        if ops != methods:
            problems.append(f"{path}: operations {sorted(ops)}, the responder serves {sorted(methods)}")


def check_constants(spec: Spec, problems: list[str]) -> None:
    max_limit = int(one(r"pub const MAX_LIMIT: usize = (\d+);", rust(SRC / "page.rs"), "MAX_LIMIT").group(1))
    limit = spec.doc["components"]["parameters"]["limit"]["schema"]
    item_list = spec.doc["components"]["schemas"]["ItemList"]
    for what, value in [
        ("limit maximum", limit.get("maximum")),
        ("limit default", limit.get("default")),
        ("ItemList maxItems", item_list.get("maxItems")),
    ]:
        if value != max_limit:
            problems.append(f"{what} is {value}, page.rs MAX_LIMIT is {max_limit}")
    # The ETag's shape: the hash prefixes http.rs and the snapshot version take.
    http = rust(SRC / "http")
    body = one(r"fn body_etag\(.*?\[\.\.(\d+)\]", http, "body_etag's hash length").group(1)
    request = one(r"fn snapshot_etag\(.*?\[\.\.(\d+)\]", http, "snapshot_etag's hash length").group(1)
    manifest = rust(SRC / "serving" / "manifest.rs")
    version = one(r"fn version_of\(.*?\[\.\.(\d+)\]", manifest, "the snapshot version's length").group(1)
    want = f'^"([0-9a-f]{{{version}}}-[0-9a-f]{{{request}}}|[0-9a-f]{{{body}}})"$'
    etag = spec.doc["components"]["headers"]["ETag"]["schema"]["pattern"]
    if etag != want:
        problems.append(f"ETag pattern {etag}, the code's ETags match {want}")
    media = rust(SRC / "media.rs")
    parse = one(r"pub fn parse\(s: &str\) -> Option<MediaType> \{(.*?)\n    \}", media, "MediaType::parse").group(1)
    types = set(re.findall(r'"(\w+)" => Some\(MediaType::', parse))
    enum = set(spec.doc["components"]["schemas"]["MediaType"]["enum"])
    if types != enum:
        problems.append(f"MediaType enum {sorted(enum)}, media.rs parses {sorted(types)}")


def cursor_after(canonical_query: str, cursor: str) -> str | None:
    """The name a cursor resumes after, as page.rs decodes it; None if invalid."""
    try:
        raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
    except ValueError:
        return None
    body, digest = raw[:-8], raw[-8:]
    ok = (
        # The base64 crate rejects stray trailing bits, so only the canonical spelling counts.
        base64.urlsafe_b64encode(raw).rstrip(b"=").decode() == cursor
        and len(raw) >= 13
        and raw[0] == 1
        and hashlib.sha256(b"media-query cursor/1" + body).digest()[:8] == digest
        and body[1:5] == hashlib.sha256(canonical_query.encode()).digest()[:4]
    )
    return body[5:].decode() if ok else None


def check_examples(spec: Spec, problems: list[str]) -> None:
    def walk(node, pointer):
        if isinstance(node, dict):
            if "schema" in node:
                examples = []
                if "example" in node:
                    examples.append(("example", node["example"]))
                for name, ex in node.get("examples", {}).items():
                    examples.append((f"examples/{name}", spec.deref(ex)["value"]))
                validator = spec.validator(f"{pointer}/schema")
                for where, value in examples:
                    for e in validator.iter_errors(value):
                        problems.append(f"{pointer}/{where}: {e.message}")
            for k, v in node.items():
                walk(v, f"{pointer}/{k.replace('~', '~0').replace('/', '~1')}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{pointer}/{i}")

    walk(spec.doc, "")
    # The cursor examples must be cursors the API really issues, and the
    # parameter's must fit the filter examples: Schemathesis sends them together.
    params = spec.doc["components"]["parameters"]
    # ListQuery::canonical: fixed order, values as s3_event::encode_key spells them.
    canonical = "&".join(
        f"{k}={quote(str(params[k]['example']), safe='-_.~/').replace('%20', '+')}"
        for k in ("startswith", "media-type", "label")
    )
    if cursor_after(canonical, params["cursor"]["example"]) is None:
        problems.append(f"the cursor parameter's example is not a valid cursor of {canonical}")
    link = spec.doc["components"]["headers"]["Link"]["example"]
    m = re.fullmatch(r"</\?(.*)&limit=\d+&cursor=([^>]*)>; rel=\"next\"", link)
    if not m or cursor_after(m.group(1), m.group(2)) is None:
        problems.append("the Link header's example does not carry a valid cursor for its query")


def check_vectors(spec: Spec, problems: list[str]) -> None:
    schema = lambda name: spec.validator(f"/components/schemas/{name}")  # noqa: E731
    vectors = ROOT / "domain" / "vectors"
    api = json.loads((vectors / "api.json").read_text())
    queries = json.loads((vectors / "queries.json").read_text())
    cases = [("Item", json.loads(c["body"]), "api.json items") for c in api["items"]]
    cases += [("ItemList", json.loads(c["body"]), "api.json lists") for c in api["lists"]]
    errors = [(json.loads(c["body"]), "api.json errors") for c in api["errors"]]
    errors += [(c["error"]["body"], "api.json paths") for c in api["paths"] if "error" in c]
    errors += [(c["error"]["body"], "queries.json") for c in queries["cases"] if "error" in c]
    cases += [(body["Code"], body, where) for body, where in errors]
    for name, body, where in cases:
        if name not in spec.doc["components"]["schemas"]:
            problems.append(f"{where}: no schema for the error code {name}")
            continue
        for e in schema(name).iter_errors(body):
            problems.append(f"{where}: {json.dumps(body, ensure_ascii=False)} is not a valid {name}: {e.message}")


def main(path: str) -> int:
    spec = Spec(ROOT / path)
    problems: list[str] = []
    for check in (check_params, check_errors, check_headers, check_constants, check_examples, check_vectors):
        check(spec, problems)
    for p in dict.fromkeys(problems):
        print(f"{path}: {p}")
    if not problems:
        print(f"{path}: agrees with the Rust source and the shared vectors")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "openapi.yaml"))
