namespace LogAlert.Core
/// x
type Placeholder = int
