// The deployment's parameters, from the environment of the deploying shell (so no
// placeholder is ever deployed: scripts/deploy lists what is unset, all at once):
//   export TWITCH_CLIENT_ID=… TWITCH_CLIENT_SECRET=… SNOWFLAKE_ACCOUNT=ORG-ACCOUNT \
//     SNOWFLAKE_PRIVATE_KEY="$(cat rsa_key.p8)" ALERT_EMAIL=you@yourcompany.com
// Every run writes them into Key Vault, phase two too: with no default, an unset
// variable stops the deployment (Bicep's BCP338, "Failed to evaluate parameter":
// learn.microsoft.com/azure/azure-resource-manager/bicep/diagnostics/bcp338) instead
// of writing an empty secret that `serve` would then refuse at start; main.bicep's
// @minLength(1) refuses one set to "".
using './main.bicep'

param namePrefix = 'twitchpipe'
param twitchClientId = readEnvironmentVariable('TWITCH_CLIENT_ID')
param twitchClientSecret = readEnvironmentVariable('TWITCH_CLIENT_SECRET')
param snowflakeAccount = readEnvironmentVariable('SNOWFLAKE_ACCOUNT')
param snowflakeWarehouse = readEnvironmentVariable('SNOWFLAKE_WAREHOUSE', 'TRANSFORMING')
param snowflakeDatabase = readEnvironmentVariable('SNOWFLAKE_DATABASE', 'TWITCH')
param alertEmail = readEnvironmentVariable('ALERT_EMAIL')
param snowflakePrivateKey = readEnvironmentVariable('SNOWFLAKE_PRIVATE_KEY')

// Phase two: after the code is deployed, set these (see infra/README.md).
param deployEventSubscription = false
param blobsExtensionKey = readEnvironmentVariable('BLOBS_EXTENSION_KEY', '')
