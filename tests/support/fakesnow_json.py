"""fakesnow's Snowflake server, answering every statement as a JSON rowset.

fakesnow answers SELECTs with Arrow, which snowflake-connector-rs does not read. Here
every statement takes fakesnow's JSON branch (the one it keeps for DML), with values
encoded as Snowflake encodes them in JSON rowsets: TIMESTAMP_NTZ as epoch seconds
with nine fractional digits, DATE as days since the epoch, BOOLEAN as 1/0.

Each login prints `login QUERY_TAG=<tag>` (and `login STATEMENT_TIMEOUT_IN_SECONDS=<n>`
when set) on stdout, so tests can see the session parameters the client sent. With FAKESNOW_NOP_REGEXES (a JSON list), statements
fakesnow cannot model (pipes, integrations, roles, grants) succeed without effect.

fakesnow runs a MERGE as several statements through a temporary table,
MERGE_CANDIDATES, and records that table's (empty) comment in its own catalog, a
second DuckDB database. DuckDB refuses a transaction that writes two databases, so
a MERGE inside a transaction failed; Snowflake runs one (the runner's incremental
merge writes in one transaction). That one record is skipped.

With FAKESNOW_UNUSABLE_SCHEMAS (a JSON list), a login naming one of those schemas
gets a session with no current schema, as Snowflake gives a role that lacks USAGE on
its default schema (the `PUBLIC` schema of a database an admin created): an unqualified
CREATE there fails with 090106 "This session does not have a current schema", which
fakesnow raises itself for a session without one (`FakeSnowflakeCursor
.check_db_and_schema`).

Snowflake keeps a temporary table in a schema, and the runner qualifies its own (as
dbt does); DuckDB keeps them in its `temp` catalog only, where fakesnow looks for the
schema and fails. A temporary table created with a schema is made a table of that
schema instead (the runner drops it when done; two sessions never build one model).

Pipes: fakesnow has none, so this launcher keeps them, as Snowflake documents them
("Managing Snowpipe", docs.snowflake.com/en/user-guide/data-load-snowpipe-manage, and
the messages Snowflake's Terraform provider asserts in
pkg/sdk/testint/system_functions_integration_test.go and grants_integration_test.go):
- `create pipe if not exists` makes one, running, owned by the role creating it;
- `alter pipe … set pipe_execution_paused = true|false` pauses or resumes it; resuming
  one whose owner changed is refused ("cannot be resumed as ownership had changed …
  use SYSTEM$PIPE_FORCE_RESUME");
- `grant ownership on pipe` is refused on a running pipe ("not in paused state"), and
  keeps the pipe's grants only with COPY CURRENT GRANTS;
- `grant operate|monitor on pipe` records the privileges, as `show grants on pipe`
  lists them with the owner's OWNERSHIP;
- `create stage if not exists … url = '…'` records the stage's URL, which
  `show stages like '…' in schema …` answers (name, database_name, schema_name, url).
- `select system$pipe_force_resume(…)` resumes it; `select system$pipe_status(…)`
  answers its `executionState` (RUNNING or PAUSED) and `pendingFileCount` as JSON,
  to its owner or a role with MONITOR on it only, roles granted to roles included
  (`grant role X to role Y`, and ACCOUNTADMIN above SYSADMIN).
The acting role is the login's (`roleName`), which is how the Snowpipe emulator asks
too.

Snowflake's DESCRIBE TABLE describes the session's temporary tables too (dbt-snowflake's
`on_schema_change` describes its temporary `__dbt_tmp` table with it); fakesnow's
looks only in the permanent tables' catalog, so it also looks in DuckDB's `temp` one.
Usage: python fakesnow_json.py PORT
"""

import datetime
import gzip
import importlib
import json
import os
import re
import string
import sys
import urllib.parse
import uuid

import pyarrow
import snowflake.connector
import uvicorn
from fakesnow import info_schema
from fakesnow.cursor import FakeSnowflakeCursor
from fakesnow.instance import FakeSnow

# `fakesnow.server` is also the name of a function the package exports.
server = importlib.import_module("fakesnow.server")


class _Everything(frozenset):
    def __contains__(self, item):
        return True


server.DML_TYPE_IDS = _Everything()

EPOCH = datetime.datetime(1970, 1, 1)


def _snowflake_text(value):
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, datetime.datetime):
        delta = value.replace(tzinfo=None) - EPOCH
        seconds = delta.days * 86_400 + delta.seconds
        return f"{seconds}.{delta.microseconds * 1000:09d}"
    if isinstance(value, datetime.date):
        return str((value - EPOCH.date()).days)
    return str(value)


_execute = FakeSnowflakeCursor.execute

PIPES = {}
# External stages by name: their URL, as SHOW STAGES gives it.
STAGES = {}
# The role each session logged in with, by its fakesnow connection.
ROLES = {}
# Roles granted to roles (`grant role X to role Y`): Y may use what X holds. The system
# roles' own hierarchy is there from the start: "ACCOUNTADMIN ... encapsulates the
# SYSADMIN and SECURITYADMIN system roles" ("Overview of Access Control",
# docs.snowflake.com/en/user-guide/security-access-control-overview).
GRANTED_ROLES = {"ACCOUNTADMIN": {"SYSADMIN", "SECURITYADMIN"}, "SECURITYADMIN": {"USERADMIN"}}


def _roles_of(role):
    """`role` and every role granted to it, down the hierarchy."""
    seen, todo = set(), [role]
    while todo:
        current = todo.pop()
        if current not in seen:
            seen.add(current)
            todo.extend(GRANTED_ROLES.get(current, ()))
    return seen


def _holds(role, pipe, privilege):
    """Whether `role` (or a role granted to it) owns `pipe` or holds `privilege` on it."""
    return any(r == pipe["owner"] or privilege in pipe["grants"].get(r, set()) for r in _roles_of(role))


def _pipe_name(text):
    return text.strip().strip("'\"").upper()


def _refuse(message, errno=3001, sqlstate="42601"):
    raise snowflake.connector.errors.ProgrammingError(msg=message, errno=errno, sqlstate=sqlstate)


def _pipe(name):
    pipe = PIPES.get(name)
    if pipe is None:
        _refuse(f"Pipe '{name}' does not exist or not authorized.", errno=2003, sqlstate="02000")
    return pipe


def _quoted(text):
    return "'" + text.replace("'", "''") + "'"


def _pipe_statement(cursor, command):
    """The SELECT that answers a pipe statement, or None if `command` is not one."""
    role = ROLES.get(id(cursor._conn), "PUBLIC")
    text = " ".join(command.strip().rstrip(";").split())
    lower = text.lower()
    if match := re.match(r"create stage if not exists (\S+) url = '([^']*)'", text, re.IGNORECASE):
        name = _pipe_name(match.group(1))
        STAGES.setdefault(name, match.group(2))
        return f"select {_quoted(f'Stage area {name} successfully created.')} as status"
    if match := re.match(r"show stages like '([^']*)' in schema (\S+)$", lower):
        # SHOW STAGES' columns include name, database_name, schema_name and url
        # (docs.snowflake.com/en/sql-reference/sql/show-stages).
        name = f"{_pipe_name(match.group(2))}.{match.group(1).upper()}"
        if name not in STAGES:
            return "select null as name, null as url where false"
        database, schema, stage = name.split(".")
        return (
            f"select {_quoted(stage)} as name, {_quoted(database)} as database_name, "
            f"{_quoted(schema)} as schema_name, {_quoted(STAGES[name])} as url"
        )
    if match := re.match(r"grant role (\S+) to role (\S+)$", lower):
        GRANTED_ROLES.setdefault(match.group(2).upper(), set()).add(match.group(1).upper())
        return "select 'Statement executed successfully.' as status"
    if match := re.match(r"create pipe if not exists (\S+) ", lower):
        name = _pipe_name(match.group(1))
        created = name not in PIPES
        PIPES.setdefault(name, {"owner": role, "paused": False, "transferred": False, "grants": {}, "pending": 0})
        status = f"Pipe {name} successfully created." if created else f"{name} already exists, statement succeeded."
        return f"select {_quoted(status)} as status"
    if match := re.match(r"alter pipe (\S+) set pipe_execution_paused = (true|false)$", lower):
        name = _pipe_name(match.group(1))
        pipe = _pipe(name)
        if match.group(2) == "true":
            pipe["paused"] = True
        else:
            if pipe["transferred"]:
                _refuse(
                    f"Pipe {name} cannot be resumed as ownership had changed. Resuming pipe may load files "
                    f"inserted by previous owner into table. To forceresume pipe use SYSTEM$PIPE_FORCE_RESUME('{name}')"
                )
            pipe["paused"] = False
        return "select 'Statement executed successfully.' as status"
    if match := re.match(r"grant ownership on pipe (\S+) to role (\S+)( copy current grants)?$", lower):
        name, grantee = _pipe_name(match.group(1)), match.group(2).upper()
        pipe = _pipe(name)
        if not pipe["paused"]:
            _refuse(f"Pipe {name} not in paused state. To pause pipe run ALTER PIPE {name} SET PIPE_EXECUTION_PAUSED=true")
        if pipe["owner"] != grantee:
            pipe["transferred"] = True
        pipe["owner"] = grantee
        if not match.group(3):
            pipe["grants"] = {}
        return "select 'Statement executed successfully.' as status"
    if match := re.match(r"grant ([a-z, ]+) on pipe (\S+) to role (\S+)$", lower):
        privileges = {p.strip().upper() for p in match.group(1).split(",")}
        unknown = privileges - {"OPERATE", "MONITOR"}
        if unknown:
            _refuse(f"Unsupported privilege(s) on a pipe: {', '.join(sorted(unknown))}")
        pipe = _pipe(_pipe_name(match.group(2)))
        pipe["grants"].setdefault(match.group(3).upper(), set()).update(privileges)
        return "select 'Statement executed successfully.' as status"
    if match := re.match(r"select system\$pipe_force_resume\((\S+?)\)$", lower):
        name = _pipe_name(match.group(1))
        pipe = _pipe(name)
        pipe["paused"], pipe["transferred"] = False, False
        return f"select {_quoted(f'Pipe {name} successfully resumed.')} as status"
    if match := re.match(r"select system\$pipe_status\((\S+?)\)$", lower):
        name = _pipe_name(match.group(1))
        pipe = _pipe(name)
        # "Returns results only for the pipe owner ... or a role with the MONITOR
        # privilege on the pipe" (SYSTEM$PIPE_STATUS); Snowflake hides a pipe a role
        # may not see behind the same message as a missing one.
        if not _holds(role, pipe, "MONITOR"):
            _refuse(f"Pipe '{name}' does not exist or not authorized.", errno=2003, sqlstate="02000")
        state = {"executionState": "PAUSED" if pipe["paused"] else "RUNNING", "pendingFileCount": pipe["pending"]}
        return f"select {_quoted(json.dumps(state))} as status"
    if match := re.match(r"show grants on pipe (\S+)$", lower):
        pipe = _pipe(_pipe_name(match.group(1)))
        rows = [("OWNERSHIP", pipe["owner"])] + [
            (privilege, grantee) for grantee, privileges in pipe["grants"].items() for privilege in sorted(privileges)
        ]
        selects = " union all ".join(f"select {_quoted(p)} as privilege, {_quoted(g)} as grantee_name" for p, g in rows)
        return selects
    return None

_QUALIFIED_TEMPORARY = re.compile(
    r"^(\s*create\s+(?:or\s+replace\s+)?)temporary\s+(table\s+(?:\w+\.){1,2}\w+)", re.IGNORECASE
)


def _execute_then_encode(self, command, *args, **kwargs):
    if isinstance(command, str):
        command = _pipe_statement(self, command) or _QUALIFIED_TEMPORARY.sub(r"\1\2", command, count=1)
    result = _execute(self, command, *args, **kwargs)
    table = self._arrow_table
    if table is not None:
        columns = [[_snowflake_text(v) for v in column.to_pylist()] for column in table.columns]
        self._arrow_table = pyarrow.table(
            {f"c{i}": pyarrow.array(c, type=pyarrow.string()) for i, c in enumerate(columns)}
        )
    return result


FakeSnowflakeCursor.execute = _execute_then_encode

_describe = importlib.import_module("fakesnow.transforms.transforms")
_permanent_only = (
    "FROM _fs_information_schema._fs_columns\n"
    "WHERE table_catalog = '${catalog}' AND table_schema = '${schema}' AND table_name = '${table}'"
)
assert _permanent_only in _describe.SQL_DESCRIBE_TABLE.template, "fakesnow's DESCRIBE TABLE changed"
_describe.SQL_DESCRIBE_TABLE = string.Template(
    _describe.SQL_DESCRIBE_TABLE.template.replace(
        _permanent_only,
        "FROM _fs_global._fs_information_schema._fs_columns\n"
        "WHERE ((table_catalog = '${catalog}' AND table_schema = '${schema}') OR table_catalog = 'temp') "
        "AND table_name = '${table}'",
    )
)

_insert_table_comment_sql = info_schema.insert_table_comment_sql


def _no_comment_for_merge_candidates(catalog, schema, table, comment):
    if table.upper() == "MERGE_CANDIDATES" and comment is None:
        return "select 1"
    return _insert_table_comment_sql(catalog, schema, table, comment)


info_schema.insert_table_comment_sql = _no_comment_for_merge_candidates

NOPS = json.loads(os.environ.get("FAKESNOW_NOP_REGEXES", "[]"))
_connect = FakeSnow.connect


def _connect_with_nops(self, *args, nop_regexes=None, **kwargs):
    return _connect(self, *args, nop_regexes=nop_regexes or NOPS or None, **kwargs)


FakeSnow.connect = _connect_with_nops

_login = server.login_request


UNUSABLE = {name.upper() for name in json.loads(os.environ.get("FAKESNOW_UNUSABLE_SCHEMAS", "[]"))}


async def _login_and_report(request):
    schema = request.query_params.get("schemaName", "")
    if schema.upper() in UNUSABLE:
        kept = [(k, v) for k, v in request.query_params.multi_items() if k != "schemaName"]
        request.scope["query_string"] = urllib.parse.urlencode(kept).encode()
        request.__dict__.pop("_query_params", None)
        print(f"login without a current schema ({schema} is not usable)", flush=True)
    body = await request.body()
    if request.headers.get("Content-Encoding") == "gzip":
        body = gzip.decompress(body)
    parameters = json.loads(body)["data"].get("SESSION_PARAMETERS", {})
    print(f"login QUERY_TAG={parameters.get('QUERY_TAG')}", flush=True)
    if "STATEMENT_TIMEOUT_IN_SECONDS" in parameters:
        print(f"login STATEMENT_TIMEOUT_IN_SECONDS={parameters['STATEMENT_TIMEOUT_IN_SECONDS']}", flush=True)
    role = (request.query_params.get("roleName") or "PUBLIC").upper()
    response = await _login(request)
    token = json.loads(response.body)["data"]["token"]
    ROLES[id(server.sessions[token])] = role
    return response


_query = server.query_request


async def _query_in_json(request):
    # An empty result is falsy, so fakesnow answers it as (empty) Arrow: make it JSON.
    response = await _query(request)
    answer = json.loads(response.body)
    data = answer.get("data") or {}
    if not answer.get("success", True) and "queryId" not in data:
        # Snowflake's error answers carry the query's id (the client reads it with the
        # message); fakesnow's do not.
        data["queryId"] = str(uuid.uuid4())
        answer["data"] = data
        return server.JSONResponse(answer, status_code=response.status_code)
    if data.get("queryResultFormat") == "arrow" and not data.get("rowsetBase64"):
        data["queryResultFormat"] = "json"
        data["rowset"] = []
        data.pop("rowsetBase64", None)
        return server.JSONResponse(answer, status_code=response.status_code)
    return response


def _replace(endpoint, replacement):
    for route in server.routes:
        if getattr(route, "endpoint", None) is endpoint:
            route.endpoint = replacement
            route.app = server.Route(route.path, replacement, methods=list(route.methods or [])).app


_replace(_login, _login_and_report)
_replace(_query, _query_in_json)

if __name__ == "__main__":
    port = int(sys.argv[1])
    print(f"fakesnow listening on 127.0.0.1:{port}", flush=True)
    uvicorn.run(server.app, host="127.0.0.1", port=port, log_level="warning")
