"""assets.attrs: kind-specific facts of an asset (ad variant and format, catalogue SKU and score)

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('assets', sa.Column('attrs', sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column('assets', 'attrs')
