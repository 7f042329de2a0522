-- Commands already carried out, by their client request id, with the answer given: a retried
-- command is answered from here and changes nothing. Written in the command's own transaction.
CREATE TABLE idempotent_commands (
    client_request_id TEXT PRIMARY KEY,
    command           TEXT NOT NULL,
    request           BLOB NOT NULL,
    response          BLOB NOT NULL
);
