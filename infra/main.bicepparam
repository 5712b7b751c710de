// Example parameters. Secrets come from the environment of the deploying shell:
//   export TWITCH_CLIENT_SECRET=… SNOWFLAKE_PRIVATE_KEY="$(cat rsa_key.p8)"
// Every run writes them into Key Vault, phase two too: with no default, an unset
// variable stops the deployment (Bicep's BCP338, "Failed to evaluate parameter":
// learn.microsoft.com/azure/azure-resource-manager/bicep/diagnostics/bcp338) instead
// of writing an empty secret that `serve` would then refuse at start; main.bicep's
// @minLength(1) refuses one set to "".
using './main.bicep'

param namePrefix = 'twitchpipe'
param twitchClientId = 'your-twitch-client-id'
param twitchClientSecret = readEnvironmentVariable('TWITCH_CLIENT_SECRET')
param snowflakeAccount = 'MYORG-MYACCOUNT'
param snowflakeWarehouse = 'TRANSFORMING'
param snowflakeDatabase = 'TWITCH'
param alertEmail = 'operator@example.com'
param snowflakePrivateKey = readEnvironmentVariable('SNOWFLAKE_PRIVATE_KEY')

// Phase two: after the code is deployed, set these (see infra/README.md).
param deployEventSubscription = false
param blobsExtensionKey = readEnvironmentVariable('BLOBS_EXTENSION_KEY', '')
