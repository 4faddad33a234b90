"""catalogue fill from platform exports: catalogue_rows.line (the file's own line) and
catalogue_rows.platform_id (Shopify Handle, Magento sku, WooCommerce ID)

Revision ID: 0005
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('catalogue_rows', schema=None) as batch_op:
        batch_op.add_column(sa.Column('line', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('platform_id', sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('catalogue_rows', schema=None) as batch_op:
        batch_op.drop_column('platform_id')
        batch_op.drop_column('line')
