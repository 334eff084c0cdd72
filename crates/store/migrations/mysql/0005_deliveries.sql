-- Deliveries from a queue, by the queue's delivery key (node and queue
-- id): a queue that crashed after the island committed but before it noted
-- the delivery tries again, and the island must not store a second copy.
-- Rows older than a few days are removed (a queue gives up long before).
CREATE TABLE deliveries (
    delivery_key VARCHAR(200) NOT NULL,
    account_id   BIGINT NOT NULL,
    delivered_at BIGINT NOT NULL,
    PRIMARY KEY (delivery_key, account_id)
);
CREATE INDEX deliveries_at ON deliveries (delivered_at);
