"""the upscaler a job was submitted for: jobs.upscaler_name, upscaler_version, upscaler_sha256,
upscaler_uri (all null for a job that upscales nothing)

Revision ID: 0006
Revises: 0005
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('upscaler_name', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('upscaler_version', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('upscaler_sha256', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('upscaler_uri', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_column('upscaler_uri')
        batch_op.drop_column('upscaler_sha256')
        batch_op.drop_column('upscaler_version')
        batch_op.drop_column('upscaler_name')
