//! The persisted simulated date behind every service's `familybridge.simulation.v1.Clock`.
//!
//! Time in familybridge is simulated: a service's "today" is whatever date the simulation last
//! advanced it to, stored in its own database so that a restarted service carries on from the date
//! it had reached. Time never runs backwards.

use chrono::NaiveDate;
use sqlx::AnyConnection;

use crate::{Database, StorageError};

/// Why the simulated date could not be moved.
#[derive(Debug, thiserror::Error)]
pub enum ClockError {
    /// The requested date is before the current simulated date.
    #[error("date {requested} is before the simulated date {current}: time only moves forward")]
    Backwards {
        /// The date asked for.
        requested: NaiveDate,
        /// The date already reached.
        current: NaiveDate,
    },
    /// The stored date is not a date (the table was edited by hand).
    #[error("the stored simulated date {0:?} is not a YYYY-MM-DD date")]
    Corrupt(String),
    /// The database failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Reads and moves one service's simulated date.
#[derive(Debug, Clone)]
pub struct SimulatedClock {
    database: Database,
}

impl SimulatedClock {
    /// The clock kept in `database`.
    pub fn new(database: Database) -> Self {
        Self { database }
    }

    /// The current simulated date, or `None` if the clock has never been advanced.
    pub async fn current_date(&self) -> Result<Option<NaiveDate>, ClockError> {
        let mut connection = self
            .database
            .pool()
            .acquire()
            .await
            .map_err(StorageError::from)?;
        Self::current_date_on(&mut connection).await
    }

    /// The current simulated date read on `connection`: from inside a transaction, which on SQLite
    /// holds the database's one writing connection.
    pub async fn current_date_on(
        connection: &mut AnyConnection,
    ) -> Result<Option<NaiveDate>, ClockError> {
        let stored: Option<String> =
            sqlx::query_scalar("SELECT simulated_date FROM simulation_clock WHERE singleton = 1")
                .fetch_optional(connection)
                .await
                .map_err(StorageError::from)?;
        stored
            .map(|text: String| {
                NaiveDate::parse_from_str(&text, "%Y-%m-%d").map_err(|_| ClockError::Corrupt(text))
            })
            .transpose()
    }

    /// Checks that the clock may move to `date` and returns the current date: `Err` if `date` is in
    /// the past. Moving to the current date is allowed (a retried call).
    pub async fn check_forward(&self, date: NaiveDate) -> Result<Option<NaiveDate>, ClockError> {
        let current = self.current_date().await?;
        match current {
            Some(current) if date < current => Err(ClockError::Backwards {
                requested: date,
                current,
            }),
            _ => Ok(current),
        }
    }

    /// Records `date` as the simulated date. The move is checked again inside the write, so two
    /// racing calls can never take the clock backwards.
    pub async fn set(&self, date: NaiveDate) -> Result<(), ClockError> {
        let text = date.format("%Y-%m-%d").to_string();
        let mut write = self
            .database
            .begin_write()
            .await
            .map_err(StorageError::from)?;
        let updated = sqlx::query(
            "INSERT INTO simulation_clock (singleton, simulated_date) VALUES (1, $1) \
             ON CONFLICT (singleton) DO UPDATE SET simulated_date = excluded.simulated_date \
             WHERE simulation_clock.simulated_date <= excluded.simulated_date",
        )
        .bind(&text)
        .execute(&mut *write.transaction)
        .await
        .map_err(StorageError::from)?;
        write
            .transaction
            .commit()
            .await
            .map_err(StorageError::from)?;
        if updated.rows_affected() == 0 {
            // Only the guarded update can affect no row: another call moved the clock further.
            let current = self.current_date().await?.unwrap_or(date);
            return Err(ClockError::Backwards {
                requested: date,
                current,
            });
        }
        Ok(())
    }
}
