-- The court-order inbox keeps the columns every inbox keeps (familybridge_feed::Inbox), so that
-- the CMS and the referral hub record a delivery through one mechanism. Entries taken in before
-- these columns existed were from the court registry; their stream and sequence are not needed.
ALTER TABLE court_order_inbox ADD COLUMN publisher TEXT NOT NULL DEFAULT 'court-registry';
ALTER TABLE court_order_inbox ADD COLUMN stream TEXT NOT NULL DEFAULT '';
ALTER TABLE court_order_inbox ADD COLUMN sequence BIGINT NOT NULL DEFAULT 0;
