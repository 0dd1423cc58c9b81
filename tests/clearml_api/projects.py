"""projects.* (services/projects.py, bll/project/): nested names with their ancestors created,
hidden projects, shallow searches, duplicate names refused."""

from __future__ import annotations

from typing import Any

from .common import new_id, now, owned, valid_name
from .errors import duplicate_name, error, invalid_project
from .queries import run_query

MAX_DEPTH = 10
PROJECT_LIST_FIELDS = {"id", "tags", "system_tags", "parent", "path", "user"}


def normalized_name(name: Any) -> str:
    parts = [p.strip() for p in str(name or "").split("/") if p]
    if not parts or not all(parts):
        raise error(400, 407, "Invalid project name", name=name)
    if len(parts) > MAX_DEPTH:
        raise error(400, 409, "Project path exceeds the maximum allowed depth", name=name, max_depth=MAX_DEPTH)
    return "/".join(parts)


class ProjectsService:
    projects: dict[str, dict]
    tasks: dict[str, dict]
    models: dict[str, dict]

    def project(self, project_id: Any) -> dict:
        project = self.projects.get(project_id)
        if project is None:
            raise invalid_project(project_id)
        return project

    def project_by_name(self, name: str) -> dict | None:
        return next((p for p in self.projects.values() if p["name"] == name), None)

    def _ensure_project(self, name: str, **fields: Any) -> dict:
        """The project ``name``, created with its missing ancestors (which get no tags)."""
        found = self.project_by_name(name)
        if found is not None:
            return found
        parent_name, _, basename = name.rpartition("/")
        parent = self._ensure_project(parent_name) if parent_name else None
        project = owned(
            id=new_id(),
            name=valid_name(name),
            basename=basename,
            description=fields.get("description") or "",
            tags=sorted(fields.get("tags") or []),
            system_tags=sorted(fields.get("system_tags") or []),
            default_output_destination=fields.get("default_output_destination"),
            parent=parent["id"] if parent else None,
            path=[*parent["path"], parent["id"]] if parent else [],
        )
        if parent:
            parent["last_update"] = now()
        self.projects[project["id"]] = project
        return project

    def _projects_create(self, body: dict) -> dict:
        name = normalized_name(body["name"])
        if self.project_by_name(name) is not None:
            raise duplicate_name(name)
        fields = {k: body.get(k) for k in ("description", "tags", "system_tags", "default_output_destination")}
        return {"id": self._ensure_project(name, **fields)["id"]}

    def _projects_get_by_id(self, body: dict) -> dict:
        return {"project": dict(self.project(body["project"]))}

    def _projects_get_all(self, body: dict) -> dict:
        query = dict(body)
        query.pop("path", None)
        parent = query.pop("parent", None)
        items = list(self.projects.values())
        if query.get("shallow_search"):
            wanted = parent if isinstance(parent, list) else [parent] if parent else [None]
            items = [p for p in items if p.get("parent") in wanted]
        elif parent:
            wanted = parent if isinstance(parent, list) else [parent]
            items = [p for p in items if set(p["path"]) & set(wanted)]
        found = run_query(items, query, PROJECT_LIST_FIELDS, {"name", "basename", "description"}, {"last_update"})
        if body.get("search_hidden"):
            for project in found:
                if "hidden" in (self.projects[project["id"]].get("system_tags") or []):
                    project["hidden"] = True
        if body.get("include_stats"):
            for project in found:
                project["stats"] = {"active": self._project_stats(project["id"])}
                children = [p for p in self.projects.values() if p.get("parent") == project["id"]]
                project["sub_projects"] = sorted(({"id": p["id"], "name": p["name"]} for p in children), key=str)
        return {"projects": found}

    def _project_stats(self, project_id: str) -> dict:
        tasks = [t for t in self.tasks.values() if t.get("project") == project_id]
        counts: dict[str, int] = {}
        for task in tasks:
            counts[task["status"]] = counts.get(task["status"], 0) + 1
        return {"status_count": counts, "total_tasks": len(tasks), "total_runtime": 0, "completed_tasks_24h": 0}

    def _projects_get_all_ex(self, body: dict) -> dict:
        return self._projects_get_all(body)

    def _projects_update(self, body: dict) -> dict:
        project = self.project(body["project"])
        fields = {k: body[k] for k in ("description", "tags", "system_tags", "default_output_destination") if k in body}
        if body.get("name") is not None:
            name = normalized_name(body["name"])
            if name.rpartition("/")[0] != project["name"].rpartition("/")[0]:
                raise error(400, 408, "Cannot update project location", name=name)
            if name != project["name"] and self.project_by_name(name) is not None:
                raise duplicate_name(name)
            old = project["name"]
            for other in self.projects.values():
                if other["name"].startswith(f"{old}/"):
                    other["name"] = name + other["name"][len(old) :]
            fields.update(name=valid_name(name), basename=name.rpartition("/")[2])
        for key in ("tags", "system_tags"):
            if key in fields:
                fields[key] = sorted(fields[key] or [])
        project.update(fields, last_update=now())
        return {"updated": 1, "fields": fields}

    def _projects_delete(self, body: dict) -> dict:
        project = self.project(body["project"])
        ids = {project["id"], *(p["id"] for p in self.projects.values() if project["id"] in p["path"])}
        tasks = [t for t in self.tasks.values() if t.get("project") in ids]
        models = [m for m in self.models.values() if m.get("project") in ids]
        if not body.get("force"):
            if any("archived" not in (t.get("system_tags") or []) for t in tasks):
                raise error(400, 402, "Project has associated tasks (use force=true)", id=project["id"])
            if any("archived" not in (m.get("system_tags") or []) for m in models):
                raise error(400, 405, "Project has associated models (use force=true)", id=project["id"])
        deleted_tasks = deleted_models = 0
        for task in tasks:
            if body.get("delete_contents"):
                self.remove_task(task["id"])
                deleted_tasks += 1
            else:
                task["project"] = None
        for model in models:
            if body.get("delete_contents"):
                self.models.pop(model["id"], None)
                deleted_models += 1
            else:
                model["project"] = None
        for project_id in ids:
            self.projects.pop(project_id, None)
        return {
            "deleted": len(ids),
            "disassociated_tasks": 0 if body.get("delete_contents") else len(tasks),
            "deleted_models": deleted_models,
            "deleted_tasks": deleted_tasks,
            "urls": None,
        }
