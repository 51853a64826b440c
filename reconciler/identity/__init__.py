"""Identity without a state file (SPEC §2): the typed create request, its spec hash and tags, and
uploads found by content. See ``request`` for the idea."""

from reconciler.identity.desired import Desired, Digest, LocalFile, build
from reconciler.identity.request import CreateRequest, FileRef, MethodSpec
from reconciler.identity.spec import SPEC_VERSION, spec_hash, tags
from reconciler.identity.uploads import FilesLoader, UploadIndex, parse_upload_name, sha256_file, upload_filename

__all__ = ["SPEC_VERSION", "CreateRequest", "Desired", "Digest", "FileRef", "FilesLoader", "LocalFile", "MethodSpec",
           "UploadIndex", "build", "parse_upload_name", "sha256_file", "spec_hash", "tags", "upload_filename"]
