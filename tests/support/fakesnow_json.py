"""fakesnow's Snowflake server, answering every statement as a JSON rowset.

fakesnow answers SELECTs with Arrow, which snowflake-connector-rs does not read. Here
every statement takes fakesnow's JSON branch (the one it keeps for DML), with values
encoded as Snowflake encodes them in JSON rowsets: TIMESTAMP_NTZ as epoch seconds
with nine fractional digits, DATE as days since the epoch, BOOLEAN as 1/0.

Each login prints `login QUERY_TAG=<tag>` on stdout, so tests can see the session
parameters the client sent. With FAKESNOW_NOP_REGEXES (a JSON list), statements
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

import pyarrow
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

_QUALIFIED_TEMPORARY = re.compile(
    r"^(\s*create\s+(?:or\s+replace\s+)?)temporary\s+(table\s+(?:\w+\.){1,2}\w+)", re.IGNORECASE
)


def _execute_then_encode(self, command, *args, **kwargs):
    if isinstance(command, str):
        command = _QUALIFIED_TEMPORARY.sub(r"\1\2", command, count=1)
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
    return await _login(request)


_query = server.query_request


async def _query_in_json(request):
    # An empty result is falsy, so fakesnow answers it as (empty) Arrow: make it JSON.
    response = await _query(request)
    answer = json.loads(response.body)
    data = answer.get("data") or {}
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
