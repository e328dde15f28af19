"""${message}

Revision ID: ${up_revision}
% if down_revision:
Revises: ${down_revision | comma,n}
% else:
Revises: (none: the first revision)
% endif
Create Date: ${create_date}

"""

from collections.abc import Sequence

## (Lines starting with ## are template comments, not copied into revisions.)
## "noqa: F401" keeps the imports a revision does not use (a revision written by hand still needs op and sa);
## the post-write hook in alembic.ini (ruff check --fix) removes the comment where the import is used.
## sqlmodel: autogenerate writes SQLModel's str columns as sqlmodel.sql.sqltypes.AutoString(length=...).
import sqlalchemy as sa  # noqa: F401
import sqlmodel  # noqa: F401
from alembic import op  # noqa: F401
${imports if imports else ""}

# revision identifiers, used by Alembic.
revision: str = ${repr(up_revision)}
down_revision: str | Sequence[str] | None = ${repr(down_revision)}
branch_labels: str | Sequence[str] | None = ${repr(branch_labels)}
depends_on: str | Sequence[str] | None = ${repr(depends_on)}


def upgrade() -> None:
    """Upgrade schema."""
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    """Downgrade schema."""
    ${downgrades if downgrades else "pass"}
