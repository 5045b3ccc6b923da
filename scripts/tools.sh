# Sourced by the scripts that keep Python tools in virtualenvs (cfn-lint and
# SAM CLI, Schemathesis, the OpenAPI validator, PyYAML for the deploy
# wiring): where those live. Outside the clone, in the user's cache, so a
# new clone or worktree reuses them; each script still checks the pinned
# versions and installs what is missing. Override with MEDIA_QUERY_TOOLS.
TOOLS=${MEDIA_QUERY_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/media-query/tools}
mkdir -p "$TOOLS"
