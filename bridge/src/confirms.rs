//! Which published messages the broker has acked or nacked, by delivery tag.

use crate::error::Error;
use crate::Outcome;

/// One outcome per message; delivery tag `n` is message `n - 1`, as
/// confirm.select numbers the channel's publishes from 1.
#[derive(Debug)]
pub(crate) struct Confirms {
    outcomes: Vec<Outcome>,
    pending: usize,
}

impl Confirms {
    pub(crate) fn new(count: usize) -> Self {
        Confirms {
            outcomes: vec![Outcome::Unconfirmed; count],
            pending: count,
        }
    }

    /// How many messages still wait for an answer.
    pub(crate) fn pending(&self) -> usize {
        self.pending
    }

    /// Records a basic.ack (`Confirmed`) or basic.nack (`Rejected`) for
    /// `tag`; with `multiple`, for every unanswered tag up to it as well
    /// (tag 0 with `multiple` answers them all). Repeated answers are ignored.
    pub(crate) fn settle(
        &mut self,
        tag: u64,
        multiple: bool,
        outcome: Outcome,
    ) -> Result<(), Error> {
        let count = self.outcomes.len() as u64;
        if tag > count || (tag == 0 && !multiple) {
            return Err(Error::UnknownDeliveryTag(tag));
        }
        let last = if tag == 0 { count } else { tag };
        let first = if multiple { 1 } else { tag };
        let range = self
            .outcomes
            .iter_mut()
            .take(last as usize)
            .skip(first as usize - 1);
        for slot in range {
            if *slot == Outcome::Unconfirmed {
                *slot = outcome;
                self.pending -= 1;
            }
        }
        Ok(())
    }

    pub(crate) fn into_outcomes(self) -> Vec<Outcome> {
        self.outcomes
    }
}
