use audit_core::audited;

struct Connection;

#[audited(action = "db.migrated", fields(connection = conn))]
fn migrate(conn: &Connection) {
    let _ = conn;
}

fn main() {
    migrate(&Connection);
}
