"""``*.get_all`` queries as the real server runs them (database/model/base.py GetMixin, NewListFieldBucketHelper;
database/model/task/task.py get_all_query_options; services/_mongo.conf).

- list fields (id, tags, system_tags, status, project, parent, type, ...): a value or a list, with the
  grammar ``"-x"`` (exclude), ``"__$not", "x"``, ``"__$all"``/``"__$and"``, ``"__$any"``/``"__$or"``; ``None``
  matches an empty or missing field;
- pattern fields (name, comment): a case-sensitive regex search;
- range fields (last_metrics.*, last_iteration, created, started): ``[min, max]``, None an open end;
- ``runtime.*`` and other dotted paths: equality;
- ``_any_``/``_all_``: ``{fields, pattern}``, a case-insensitive regex over the fields, ORed/ANDed;
- ``order_by``: ``-`` for descending; ``last_metrics.``, ``hyperparams.`` and ``execution.parameters.`` compare
  numeric strings as numbers; missing values always last; ``id`` breaks ties;
- ``only_fields``: dotted paths, ``-path`` excludes; ``page``/``page_size``: at most 500 items a reply.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from .errors import error

MAX_PAGE_SIZE = 500
NUMERIC_ORDER_PREFIXES = ("last_metrics.", "hyperparams.", "execution.parameters.")
_OPERATORS = {"__$all": "all", "__$and": "all", "__$any": "any", "__$or": "any", "__$not": "not", "__$nop": "nop"}


def value_at(item: Any, path: str) -> Any:
    """The value at a dotted ``path`` of ``item`` (None when missing)."""
    for part in path.split("."):
        if not isinstance(item, dict):
            return None
        item = item.get(part)
    return item


def _empty(value: Any) -> bool:
    return value is None or value == [] or value == ""


def list_match(wanted: Any, value: Any, field: str = "") -> bool:
    """Whether a list field's ``value`` (a list, or one value) matches the query ``wanted``."""
    if wanted is None:
        return True
    terms = wanted if isinstance(wanted, list) else [wanted]
    if not terms:
        return True
    have = set(value) if isinstance(value, list) else ({value} if not _empty(value) else set())
    groups: dict[tuple[str, bool], list[Any]] = {}
    joiner, context, negate_next, excludes_allowed = None, "any", False, True
    for term in terms:
        if isinstance(term, str) and term.startswith("__$"):
            op = _OPERATORS.get(term)
            if op is None:
                raise error(400, 16, "Invalid value for fields (Unsupported operator)", field=field, operator=term)
            if op == "not":
                negate_next = True
            elif op == "nop":
                excludes_allowed = True
            else:
                joiner = joiner or ("and" if op == "all" else "or")
                context, excludes_allowed = op, False
            continue
        include = True
        if negate_next:
            include, negate_next = False, False
        elif excludes_allowed and isinstance(term, str) and term.startswith("-"):
            include, term = False, term[1:]
        groups.setdefault((context, include), []).append(term)
    results = []
    for (context, include), values in groups.items():
        plain = {v for v in values if v is not None}
        empty_ok = None in values and not have
        if include:
            hit = (plain <= have and bool(plain)) if context == "all" else bool(plain & have)
            results.append(hit or empty_ok)
        else:  # exclusion ($nin): none of them; None excludes an empty field
            results.append(not (plain & have) and not (None in values and not have))
    return all(results) if (joiner or "and") == "and" else any(results)


def pattern_match(pattern: Any, value: Any) -> bool:
    return not pattern or re.search(str(pattern), str(value or "")) is not None


def range_match(bounds: Any, value: Any) -> bool:
    if not isinstance(bounds, list) or len(bounds) != 2:
        raise error(400, 12, "Validation error", "range fields take a list of 2 values")
    low, high = bounds
    if value is None:
        return low is None
    try:
        number = float(value)
        return (low is None or number >= float(low)) and (high is None or number <= float(high))
    except (TypeError, ValueError):
        return (low is None or str(value) >= str(low)) and (high is None or str(value) <= str(high))


def matches(item: dict, query: dict, list_fields: set[str], pattern_fields: set[str], range_fields: set[str]) -> bool:
    """Whether ``item`` matches every filter of ``query`` that the entity knows (unknown keys are ignored)."""
    for key, wanted in query.items():
        if key in {"only_fields", "order_by", "page", "page_size", "search_hidden", "scroll_id", "size"}:
            continue
        if key in {"_any_", "_all_"}:
            fields = (wanted or {}).get("fields") or []
            pattern = re.compile(str((wanted or {}).get("pattern") or ""), re.IGNORECASE)
            hits = [bool(pattern.search(str(value_at(item, f) or ""))) for f in fields]
            if hits and not (any(hits) if key == "_any_" else all(hits)):
                return False
        elif key in list_fields or key.startswith(("hyperparams.", "metadata.")) and isinstance(wanted, list):
            if not list_match(wanted, value_at(item, key), key):
                return False
        elif key in pattern_fields:
            if not pattern_match(wanted, value_at(item, key)):
                return False
        elif key in range_fields or any(key.startswith(f"{r}.") for r in range_fields):
            if not range_match(wanted, value_at(item, key)):
                return False
        elif "." in key and wanted is not None and value_at(item, key) != wanted:
            return False
    return True


def visible(item: dict, query: dict) -> bool:
    """Hidden entities (system tag "hidden") only with ``search_hidden`` or an ``id`` filter."""
    return bool(query.get("search_hidden") or query.get("id")) or "hidden" not in (item.get("system_tags") or [])


def _sort_value(value: Any, numeric: bool) -> tuple:
    if numeric:
        try:
            return (0, float(value), "")
        except (TypeError, ValueError):
            pass
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, float(value), "")
    return (1, 0.0, str(value))


def ordered(items: list[dict], order_by: Any) -> list[dict]:
    """``items`` sorted by ``order_by`` (a field or a list); missing values last; ``id`` breaks ties."""
    keys = [order_by] if isinstance(order_by, str) else list(order_by or [])
    result = sorted(items, key=lambda i: str(i.get("id", "")))
    for key in reversed(keys):
        if not key:
            continue
        if key == "@text_score":
            raise error(400, 16, "Invalid value for fields (@text_score is only allowed with search_text)")
        descending, name = key.startswith("-"), key.lstrip("-")
        numeric = name.startswith(NUMERIC_ORDER_PREFIXES)
        present = [i for i in result if not _empty(value_at(i, name))]
        missing = [i for i in result if _empty(value_at(i, name))]
        present.sort(key=lambda i, n=name: _sort_value(value_at(i, n), numeric), reverse=descending)
        result = present + missing
    return result


def projected(item: dict, only_fields: Any, excluded_by_default: tuple[str, ...] = ()) -> dict:
    """``item`` limited to ``only_fields`` (dotted paths; ``-path`` excludes), as the server projects it."""
    item = copy.deepcopy(item)
    fields = list(only_fields or [])
    include = [f for f in fields if not f.startswith("-")]
    exclude = [f[1:] for f in fields if f.startswith("-")] + [f for f in excluded_by_default if f not in include]
    if include:
        picked: dict = {"id": item.get("id")}
        for path in include:
            parts = path.split(".")
            source, target = item, picked
            for part in parts[:-1]:
                source = source.get(part) if isinstance(source, dict) else None
                target = target.setdefault(part, {})
            if isinstance(source, dict) and parts[-1] in source:
                target[parts[-1]] = source[parts[-1]]
        item = picked
    for path in exclude:
        parts = path.split(".")
        target = item
        for part in parts[:-1]:
            target = target.get(part) if isinstance(target, dict) else None
        if isinstance(target, dict):
            target.pop(parts[-1], None)
    return item


def page(items: list[dict], query: dict) -> list[dict]:
    """One page: ``page``/``page_size`` (at most 500 a reply, as the server's max_page_size)."""
    size = min(int(query.get("page_size") or query.get("size") or MAX_PAGE_SIZE), MAX_PAGE_SIZE)
    if size < 1:
        raise error(400, 12, "Validation error", "page_size must be at least 1")
    start = int(query.get("page") or 0) * size
    return items[start : start + size]


def run_query(
    items: list[dict],
    query: dict,
    list_fields: set[str],
    pattern_fields: set[str] = frozenset({"name", "comment"}),
    range_fields: set[str] = frozenset(),
    excluded_by_default: tuple[str, ...] = (),
) -> list[dict]:
    """Filter, order, page and project ``items`` for a ``get_all`` query."""
    found = [
        i for i in items if visible(i, query) and matches(i, query, list_fields, set(pattern_fields), set(range_fields))
    ]
    found = page(ordered(found, query.get("order_by")), query)
    return [projected(i, query.get("only_fields"), excluded_by_default) for i in found]
