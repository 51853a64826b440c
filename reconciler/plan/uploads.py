"""What a plan uploads and which local files it relies on (SPEC §3, §6).

A local file is uploaded once, for every create that needs it, when no upload of its bytes is
listed yet (``identity.uploads``: an upload is found by the sha256 in its name). Where the provider
keeps no metadata, the training file of each create is uploaded again, for that job alone, named
with the job's tags (``providers.tagged_files``): that name is how ftctl finds the job there. The
plan also lists every local file its manifests rely on, uploaded or not, so that ``apply PLANFILE``
can tell when one has changed since.
"""

from __future__ import annotations

from reconciler.identity import Desired, LocalFile
from reconciler.plan.model import Action, CreateAction, ReplaceAction, UploadAction
from reconciler.providers import Provider
from reconciler.providers.tagged_files import tagged_name


def relied_files(desired: list[Desired]) -> list[LocalFile]:
    """Every local file of every manifest, once, with all the manifests that use it."""
    merged: dict[tuple[str, str], LocalFile] = {}
    for d in desired:
        for f in d.files:
            key = (f.path, f.role)
            if key in merged:
                users = tuple(sorted({*merged[key].used_by, *f.used_by}))
                merged[key] = merged[key].model_copy(update={"used_by": users})
            else:
                merged[key] = f
    return [merged[k] for k in sorted(merged)]


def uploads_for(actions: list[Action], desired: list[Desired], stack: str, provider: Provider) -> list[UploadAction]:
    """One upload per distinct local file that a create needs and that is not uploaded yet; where the
    provider keeps no metadata, one of the training file per create, named with the job's tags
    (``providers.tagged_files``): that name is how ftctl finds the job again."""
    # a blocked create's files wait with it: the plan that makes it uploads them
    wanted = {a.name: a for a in actions
              if isinstance(a, ReplaceAction) or (isinstance(a, CreateAction) and a.blocked_by is None)}
    out: dict[str, tuple[LocalFile, list[str]]] = {}
    own: list[UploadAction] = []
    for d in desired:
        action = wanted.get(d.name)
        if action is None:
            continue
        for ref in action.after.local_files():
            sha = ref.sha256 or ""
            local = d.data_file(sha)
            if local is not None and ref == action.after.training_file and not provider.keeps_metadata:
                named = local.model_copy(update={"upload_name": tagged_name(sha, stack, d.name, action.spec),
                                                 "used_by": (d.name,)})
                if all(u.name != d.name for u in own):
                    own.append(UploadAction(name=d.name, file=named, used_by=[d.name], reason=(
                        f"{d.name}'s own upload: {provider.label} keeps no metadata, its name carries the job's "
                        "tags")))
                continue
            if sha in action.file_ids:
                continue
            if local is not None:
                out.setdefault(sha, (local, []))[1].append(d.name)
    return [*(UploadAction(name=names[0], reason=f"{local.path.rsplit('/', 1)[-1]} is not uploaded yet", file=local,
                           used_by=names) for local, names in out.values()), *own]
