"""The platform export fixtures (tests/fixtures/catalogue/) and what each one holds, by the
platform's identifier: the units a fill gives an image (no image, a category the mapping
resolves) and those that already had one. Read by the reader tests and the round-trip tests."""

from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures" / "catalogue"
FILES = {
    "shopify": "shopify_products.csv",
    "magento": "magento_catalog_product.csv",
    "woocommerce": "woocommerce_products.csv",
}
FILLED = {
    "shopify": {"classic-tee", "wool-pullover", "canvas-bag", "sneaker-run"},
    "magento": {"MJ01-L-Red", "MJ01", "MP01", "MT01"},
    "woocommerce": {"10", "20", "30", "40", "44"},
}
HAD_IMAGES = {
    "shopify": {"denim-trousers", "summer-dress", "rain-coat"},
    "magento": {"MS01", "WD01"},
    "woocommerce": {"11"},
}
