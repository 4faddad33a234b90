"""catalogue fill: catalogue_skus (state per SKU across jobs), catalogue_rows (each job's row outcomes)

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('catalogue_skus',
    sa.Column('sku', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('category', sa.String(length=100), nullable=True),
    sa.Column('model_class', sa.String(length=100), nullable=True),
    sa.Column('title', sa.String(length=200), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('synthetic_key', sa.String(length=1024), nullable=True),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('seed', sa.BigInteger(), nullable=True),
    sa.Column('model_version', sa.String(length=100), nullable=True),
    sa.Column('superseded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('synthetic_deleted', sa.Boolean(), nullable=False),
    sa.Column('job_id', sa.String(length=36), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('sku')
    )
    with op.batch_alter_table('catalogue_skus', schema=None) as batch_op:
        batch_op.create_index('ix_catalogue_skus_state', ['state'], unique=False)

    op.create_table('catalogue_rows',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('job_id', sa.String(length=36), nullable=False),
    sa.Column('row', sa.Integer(), nullable=False),
    sa.Column('sku', sa.String(length=100), nullable=False),
    sa.Column('outcome', sa.String(length=12), nullable=False),
    sa.Column('reason', sa.String(length=300), nullable=True),
    sa.Column('key', sa.String(length=1024), nullable=True),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('job_id', 'row')
    )


def downgrade() -> None:
    op.drop_table('catalogue_rows')
    with op.batch_alter_table('catalogue_skus', schema=None) as batch_op:
        batch_op.drop_index('ix_catalogue_skus_state')
    op.drop_table('catalogue_skus')
